import re
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

import mypy.api
import pytest
from google.protobuf import descriptor_pb2

from ckos.entrypoints.grpc import _generated
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc._generated.message_pool import default_message_pool
from ckos.entrypoints.grpc.contract import ADD_APPLIANCE, COMMUNICATOR
from ckos.entrypoints.grpc.registration import MissingHandler, Service, Unary
from ckos.entrypoints.grpc.servicer import Communicator
from support.grpc_server import running_server
from support.scripted_backend import ScriptedBackend

ROOT = Path(__file__).resolve().parents[2]


def compiled_service() -> descriptor_pb2.ServiceDescriptorProto:
    data = resources.files(_generated).joinpath("cloudkeeper.binpb").read_bytes()
    files = descriptor_pb2.FileDescriptorSet.FromString(data).file
    (file,) = [file for file in files if file.name == "cloudkeeper.proto"]
    (service,) = file.service
    assert f"{file.package}.{service.name}" == COMMUNICATOR.name
    return service


def full_name(message_class: type[Any]) -> str:
    return "." + default_message_pool.type_to_url[message_class].removeprefix("type.googleapis.com/")


def test_declarations_match_the_compiled_proto() -> None:
    compiled = {
        method.name: (method.client_streaming, method.server_streaming, method.input_type, method.output_type)
        for method in compiled_service().method
    }
    declared = {
        rpc.name: (False, rpc.server_streaming, full_name(rpc.request), full_name(rpc.response))
        for rpc in COMMUNICATOR.rpcs
    }
    assert declared == compiled
    assert len(compiled) == 10


def test_full_names_are_what_the_core_sends() -> None:
    assert full_name(pb.Appliance) == ".cloudkeeper_grpc.Appliance"
    assert full_name(ADD_APPLIANCE.response) == ".google.protobuf.Empty"


def test_every_rpc_has_a_handler() -> None:
    COMMUNICATOR.generic_handler(Communicator(ScriptedBackend()).bindings())


def test_missing_handler_is_refused() -> None:
    bindings = Communicator(ScriptedBackend()).bindings()
    with pytest.raises(MissingHandler, match="RemoveExpiredAppliances"):
        COMMUNICATOR.generic_handler([b for b in bindings if b.rpc.name != "RemoveExpiredAppliances"])


def test_duplicate_handler_is_refused() -> None:
    bindings = Communicator(ScriptedBackend()).bindings()
    with pytest.raises(MissingHandler, match="two handlers"):
        COMMUNICATOR.generic_handler([*bindings, bindings[0]])


def test_handler_for_an_undeclared_rpc_is_refused() -> None:
    # Same name, but declared elsewhere: registration goes by declaration, not by name.
    stray = Unary("AddAppliance", pb.Appliance, pb.Appliance)
    other = Service("other.Service", (stray,))
    bindings = Communicator(ScriptedBackend()).bindings()
    with pytest.raises(MissingHandler, match="does not declare"):
        other.generic_handler(bindings)


def test_server_with_a_missing_handler_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    complete = Communicator.bindings
    monkeypatch.setattr(Communicator, "bindings", lambda self: complete(self)[1:])
    with pytest.raises(MissingHandler, match="PreAction"), running_server(ScriptedBackend()):
        pass


WRONG_HANDLERS = """
    from collections.abc import AsyncIterator
    from typing import Any

    import grpc

    from ckos.entrypoints.grpc import contract
    from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
    from ckos.entrypoints.grpc._generated.google.protobuf import Empty

    Context = grpc.aio.ServicerContext[Any, Any]


    async def unary(request: pb.Appliance, context: Context) -> Empty:
        return Empty()


    async def wrong_request(request: pb.ImageListIdentifier, context: Context) -> Empty:
        return Empty()


    async def wrong_response(request: pb.Appliance, context: Context) -> pb.Appliance:
        return request


    def not_async(request: pb.Appliance, context: Context) -> Empty:
        return Empty()


    async def stream(request: pb.ImageListIdentifier, context: Context) -> AsyncIterator[pb.Appliance]:
        yield pb.Appliance()


    contract.ADD_APPLIANCE.bind(unary)
    contract.APPLIANCES.bind(stream)
    contract.ADD_APPLIANCE.bind(wrong_request)  # rejected
    contract.ADD_APPLIANCE.bind(wrong_response)  # rejected
    contract.ADD_APPLIANCE.bind(not_async)  # rejected
    contract.ADD_APPLIANCE.bind(stream)  # rejected
    contract.APPLIANCES.bind(unary)  # rejected
"""


def test_mypy_rejects_handlers_of_the_wrong_shape(tmp_path: Path) -> None:
    source = textwrap.dedent(WRONG_HANDLERS)
    snippet = tmp_path / "handlers.py"
    snippet.write_text(source)
    report, _, _ = mypy.api.run(
        [
            "--config-file",
            str(ROOT / "mypy.ini"),
            "--no-incremental",
            "--cache-dir",
            str(tmp_path),
            str(snippet),
        ]
    )
    flagged = {int(line) for line in re.findall(r"handlers\.py:(\d+): error", report)}
    expected = {number for number, line in enumerate(source.splitlines(), 1) if line.endswith("# rejected")}
    assert flagged == expected, report

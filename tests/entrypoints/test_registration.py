import re
import textwrap
from pathlib import Path
from typing import Any

import grpc
import mypy.api
import pytest
from attrs import evolve
from google.protobuf import descriptor_pb2

from ckos.config import PROTOCOLS, ServerSettings
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc.contract import CORE_20, SERVICE_NAME
from ckos.entrypoints.grpc.protocols import CORE_1, LAYOUTS, Layout
from ckos.entrypoints.grpc.protocols import CORE_20 as CORE_20_LAYOUT
from ckos.entrypoints.grpc.registration import MissingHandler, Service, Unary
from ckos.entrypoints.grpc.servicer import Communicator
from ckos.entrypoints.grpc.strict import descriptor_set, full_name
from support.grpc_server import running_server
from support.independent_client import client, method
from support.scripted_backend import ScriptedBackend

ROOT = Path(__file__).resolve().parents[2]
COMMUNICATOR = CORE_20.service
ALL_LAYOUTS = pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))


def compiled_service(layout: Layout[Any, Any, Any]) -> descriptor_pb2.ServiceDescriptorProto:
    files = descriptor_set(layout.package).file
    (file,) = [file for file in files if file.name == "cloudkeeper.proto"]
    (service,) = file.service
    assert f"{file.package}.{service.name}" == layout.contract.service.name == SERVICE_NAME
    return service


def test_the_configuration_offers_every_layout() -> None:
    assert tuple(LAYOUTS) == PROTOCOLS
    assert ServerSettings().protocol == "core-2.0"


@ALL_LAYOUTS
def test_declarations_match_the_compiled_proto_of_their_layout(layout: Layout[Any, Any, Any]) -> None:
    compiled = {
        method.name: (method.client_streaming, method.server_streaming, method.input_type, method.output_type)
        for method in compiled_service(layout).method
    }
    declared = {
        rpc.name: (False, rpc.server_streaming, f".{full_name(rpc.request)}", f".{full_name(rpc.response)}")
        for rpc in layout.contract.service.rpcs
    }
    assert declared == compiled
    assert len(compiled) == (8 if layout is CORE_1 else 10)


@ALL_LAYOUTS
def test_each_layout_declares_its_own_generated_types(layout: Layout[Any, Any, Any]) -> None:
    for rpc in layout.contract.service.rpcs:
        for message in (rpc.request, rpc.response):
            assert message.__module__.startswith(f"{layout.package.__name__}.")


def test_the_appliance_field_numbers_differ_by_layout() -> None:
    def image_number(name: str) -> int:
        (file,) = [f for f in descriptor_set(LAYOUTS[name].package).file if f.name == "cloudkeeper.proto"]
        (appliance,) = [m for m in file.message_type if m.name == "Appliance"]
        return next(field.number for field in appliance.field if field.name == "image")

    assert {name: image_number(name) for name in LAYOUTS} == {"core-2.0": 17, "core-1": 14, "proto-2019": 18}


def test_full_names_are_what_the_core_sends() -> None:
    assert full_name(pb.Appliance) == "cloudkeeper_grpc.Appliance"
    assert full_name(CORE_20.add_appliance.response) == "google.protobuf.Empty"


@ALL_LAYOUTS
def test_every_rpc_has_a_handler(layout: Layout[Any, Any, Any]) -> None:
    layout.contract.service.generic_handler(Communicator(ScriptedBackend(), layout).bindings())


def test_core1_serves_exactly_its_eight_rpcs() -> None:
    # A core 2.0 client asking a core-1 server for what the core 1.x never calls.
    settings = evolve(ServerSettings(), protocol="core-1")
    with running_server(ScriptedBackend(), settings) as target, grpc.insecure_channel(target) as channel:
        for rpc in ("UpdateApplianceMetadata", "RemoveExpiredAppliances"):
            call: grpc.UnaryUnaryMultiCallable[Any, bytes] = channel.unary_unary(
                method(rpc), lambda m: m.SerializeToString(), lambda b: b
            )
            with pytest.raises(grpc.RpcError) as raised:
                call(client().empty())
            assert raised.value.code() is grpc.StatusCode.UNIMPLEMENTED
        served: grpc.UnaryUnaryMultiCallable[Any, bytes] = channel.unary_unary(
            method("PostAction"), lambda m: m.SerializeToString(), lambda b: b
        )
        _, call_state = served.with_call(client().empty())
        assert call_state.code() is grpc.StatusCode.OK


def test_missing_handler_is_refused() -> None:
    bindings = Communicator(ScriptedBackend(), CORE_20_LAYOUT).bindings()
    with pytest.raises(MissingHandler, match="RemoveExpiredAppliances"):
        COMMUNICATOR.generic_handler([b for b in bindings if b.rpc.name != "RemoveExpiredAppliances"])


def test_duplicate_handler_is_refused() -> None:
    bindings = Communicator(ScriptedBackend(), CORE_20_LAYOUT).bindings()
    with pytest.raises(MissingHandler, match="two handlers"):
        COMMUNICATOR.generic_handler([*bindings, bindings[0]])


def test_handler_for_an_undeclared_rpc_is_refused() -> None:
    # Same name, but declared elsewhere: registration goes by declaration, not by name.
    stray = Unary("AddAppliance", pb.Appliance, pb.Appliance)
    other = Service("other.Service", (stray,))
    bindings = Communicator(ScriptedBackend(), CORE_20_LAYOUT).bindings()
    with pytest.raises(MissingHandler, match="does not declare"):
        other.generic_handler(bindings)


def test_a_handler_of_another_layout_is_refused() -> None:
    # Same names, same service: but core 1.x declarations with core 2.0 handlers is a mistake.
    bindings = Communicator(ScriptedBackend(), CORE_1).bindings()
    with pytest.raises(MissingHandler, match="does not declare"):
        COMMUNICATOR.generic_handler(bindings)


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


    contract.CORE_20.add_appliance.bind(unary)
    contract.CORE_20.appliances.bind(stream)
    contract.CORE_20.add_appliance.bind(wrong_request)  # rejected
    contract.CORE_20.add_appliance.bind(wrong_response)  # rejected
    contract.CORE_20.add_appliance.bind(not_async)  # rejected
    contract.CORE_20.add_appliance.bind(stream)  # rejected
    contract.CORE_20.appliances.bind(unary)  # rejected
    # A core 2.0 handler for a core 1.x RPC:
    contract.CORE_1.add_appliance.bind(unary)  # rejected
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

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from ckos.config import ServerSettings
from ckos.domain import errors
from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.entrypoints import daemon
from ckos.entrypoints.grpc import server
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc.listen import InsecureListenRefused
from ckos.entrypoints.grpc.status import STATUS_OF_ERROR
from support.grpc_server import running_server
from support.scripted_backend import ScriptedBackend

SERVICE = "cloudkeeper_grpc.Communicator"
SHA512 = "0f" * 64


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def channel(backend: ScriptedBackend) -> Iterator[grpc.Channel]:
    with running_server(backend) as address, grpc.insecure_channel(address) as channel:
        yield channel


@pytest.fixture
def stub(channel: grpc.Channel) -> pb.CommunicatorStub:
    return pb.CommunicatorStub(channel)


def appliance_message(image: pb.Image | None = None) -> pb.Appliance:
    return pb.Appliance(
        identifier="app-1", image_list_identifier="list-1", vo="vo.example", mpuri="m", image=image
    )


CHECK = "/grpc.health.v1.Health/Check"
WATCH = "/grpc.health.v1.Health/Watch"
Request = health_pb2.HealthCheckRequest
Response = health_pb2.HealthCheckResponse


def details(error: grpc.RpcError) -> str:
    return error.details() or ""


@pytest.mark.parametrize("name", ["", SERVICE])
def test_health_is_serving(channel: grpc.Channel, name: str) -> None:
    check = channel.unary_unary(CHECK, Request.SerializeToString, Response.FromString)
    assert check(Request(service=name)).status == Response.SERVING


def test_reflection_describes_the_service(channel: grpc.Channel) -> None:
    database = ProtoReflectionDescriptorDatabase(channel)
    # What `grpcurl list` shows.
    health, reflection = "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"
    assert {SERVICE, health, reflection} <= set(database.get_services())
    pool = descriptor_pool.DescriptorPool(database)
    methods = pool.FindServiceByName(SERVICE).methods_by_name
    assert methods["Appliances"].output_type.full_name == "cloudkeeper_grpc.Appliance"
    assert len(methods) == 10
    assert pool.FindMessageTypeByName("cloudkeeper_grpc.Appliance").fields_by_name["image"].number == 17


def test_a_local_image_reaches_the_backend(stub: pb.CommunicatorStub, backend: ScriptedBackend) -> None:
    image = pb.Image(
        location="/spool/app-1.qcow2", format=pb.ImageFormat.QCOW2, uri="u", checksum=SHA512, size=9
    )
    stub.add_appliance(appliance_message(image))
    ((method, (appliance, source)),) = backend.calls
    assert method == "add_appliance"
    assert isinstance(appliance, Appliance)
    assert appliance.image == ImageFacts("u", SHA512, 9, ImageFormat.QCOW2, "")
    assert source == ImageSource(TransferMode.LOCAL, "/spool/app-1.qcow2")


def test_streams_send_every_item(stub: pb.CommunicatorStub, backend: ScriptedBackend) -> None:
    backend.lists = ["list-1", "list-2"]
    backend.listed = [Appliance("app-1", "list-1", "vo", "m"), Appliance("app-2", "list-1", "vo", "m")]
    assert [item.image_list_identifier for item in stub.image_lists()] == ["list-1", "list-2"]
    entries = list(stub.appliances(pb.ImageListIdentifier("list-1")))
    assert [entry.identifier for entry in entries] == ["app-1", "app-2"]


@pytest.mark.parametrize("error_class", list(STATUS_OF_ERROR), ids=lambda cls: cls.__name__)
def test_domain_errors_arrive_as_their_code(
    stub: pb.CommunicatorStub, backend: ScriptedBackend, error_class: type[errors.CkosError]
) -> None:
    backend.fail["add_appliance"] = error_class("the reason")
    with pytest.raises(grpc.RpcError) as raised:
        stub.add_appliance(appliance_message(pb.Image(location="/x")))
    assert raised.value.code() is STATUS_OF_ERROR[error_class]
    assert "the reason" in details(raised.value)
    assert "app-1" in details(raised.value)


def test_an_unexpected_exception_is_internal(stub: pb.CommunicatorStub, backend: ScriptedBackend) -> None:
    backend.fail["remove_image_list"] = KeyError("surprise")
    with pytest.raises(grpc.RpcError) as raised:
        stub.remove_image_list(pb.ImageListIdentifier("list-9"))
    assert raised.value.code() is grpc.StatusCode.INTERNAL
    assert "list-9" in details(raised.value)


def test_a_bad_enum_is_invalid_argument(stub: pb.CommunicatorStub, backend: ScriptedBackend) -> None:
    message = appliance_message(pb.Image(location="/x", format=pb.ImageFormat(77)))
    with pytest.raises(grpc.RpcError) as raised:
        stub.update_appliance(message)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert backend.calls == []


@pytest.mark.parametrize("method", ["image_lists", "appliances"])
def test_a_failing_stream_sends_nothing(
    stub: pb.CommunicatorStub, backend: ScriptedBackend, method: str
) -> None:
    backend.lists = ["list-1"]
    backend.fail[method] = errors.CatalogUnavailable("glance is down")
    received: list[object] = []
    # The call object is lazy: nothing is received until it is iterated.
    call = (
        stub.image_lists() if method == "image_lists" else stub.appliances(pb.ImageListIdentifier("list-1"))
    )
    with pytest.raises(grpc.RpcError) as raised:
        received.extend(call)
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
    assert received == []


def test_a_value_the_wire_cannot_carry_fails_the_stream_before_any_item(
    stub: pb.CommunicatorStub, backend: ScriptedBackend
) -> None:
    backend.listed = [
        Appliance("app-1", "list-1", "vo", "m"),
        Appliance("app-2", "list-1", "vo", "m", core=2**40),
    ]
    received: list[object] = []
    with pytest.raises(grpc.RpcError) as raised:
        received.extend(stub.appliances(pb.ImageListIdentifier("list-1")))
    assert raised.value.code() is grpc.StatusCode.INTERNAL
    assert received == []


@pytest.mark.parametrize("listen", ["0.0.0.0:0", "[::]:0", "192.0.2.1:0", "backend.example.org:0"])
def test_insecure_remote_listener_is_refused(listen: str) -> None:
    with pytest.raises(InsecureListenRefused, match="allow_insecure_remote"):
        asyncio.run(server.start(ScriptedBackend(), ServerSettings(listen=listen)))


def test_insecure_remote_listener_when_allowed() -> None:
    async def scenario() -> int:
        running = await server.start(
            ScriptedBackend(), ServerSettings(listen="0.0.0.0:0", allow_insecure_remote=True)
        )
        await running.stop(None)
        return running.port

    assert asyncio.run(scenario()) > 0


async def status_of(watch: grpc.aio.UnaryStreamCall[Any, Response]) -> int:
    response = await watch.read()
    assert isinstance(response, Response)
    return response.status


def test_stop_reports_not_serving_and_lets_calls_finish() -> None:
    hold = threading.Event()
    backend = ScriptedBackend(hold=hold)

    async def scenario() -> tuple[list[int], grpc.StatusCode]:
        running = await server.start(backend, ServerSettings(listen="127.0.0.1:0"))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            watch = channel.unary_stream(WATCH, Request.SerializeToString, Response.FromString)(
                Request(service=SERVICE)
            )
            statuses = [await status_of(watch)]
            # The generated stub is synchronous: call the method path on the aio channel directly.
            call = channel.unary_unary(f"/{SERVICE}/AddAppliance", bytes, bytes)(bytes(appliance_message()))
            while not backend.calls:
                await asyncio.sleep(0.01)
            stopping = asyncio.create_task(running.stop(5))
            statuses.append(await status_of(watch))
            watch.cancel()  # an open Watch would hold the server for the whole grace
            hold.set()
            await call
            code = await call.code()
            await stopping
        return statuses, code

    statuses, code = asyncio.run(scenario())
    assert statuses == [Response.SERVING, Response.NOT_SERVING]
    assert code is grpc.StatusCode.OK


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_on_signal(number: signal.Signals) -> None:
    ports: list[int] = []

    def ready(port: int) -> None:
        ports.append(port)
        os.kill(os.getpid(), number)

    settings = ServerSettings(listen="127.0.0.1:0", shutdown_grace=0.1)
    asyncio.run(asyncio.wait_for(daemon.serve(ScriptedBackend(), settings, on_ready=ready), timeout=10))
    assert ports
    assert ports[0] > 0


def send_raw(channel: grpc.Channel, rpc: str, payload: bytes) -> None:
    path = f"/{SERVICE}/{rpc}"
    if rpc == "Appliances":
        list(channel.unary_stream(path, bytes, bytes)(payload))
    else:
        channel.unary_unary(path, bytes, bytes)(payload)


@pytest.mark.parametrize("rpc", ["PreAction", "AddAppliance", "Appliances"])
def test_a_malformed_request_is_invalid_argument(
    channel: grpc.Channel, backend: ScriptedBackend, rpc: str
) -> None:
    # Left to grpcio's deserializer hook, this would come back as a bare UNKNOWN.
    with pytest.raises(grpc.RpcError) as raised:
        send_raw(channel, rpc, b"\x00")  # field number 0 does not exist
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert rpc in details(raised.value)
    assert backend.calls == []

"""The server in the core-1 and proto-2019 layouts, through independent clients of those layouts.

The backend is scripted, so that each test sees exactly which use case a call reached, with what.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from ckos.config import ServerSettings
from ckos.domain import errors
from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.entrypoints.grpc.status_names import STATUS_NAME_OF_ERROR
from support import core1
from support.grpc_server import running_server
from support.independent_client import client
from support.scripted_backend import ScriptedBackend

SERVICE = "cloudkeeper_grpc.Communicator"
SHA512 = "0f" * 64
OK = grpc.StatusCode.OK
ATTRIBUTES = {"ad:appid": "1017", "ad:base_mpuri": "https://appdb/store/vm/image/x/", "dc:title": "T"}


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend()


def serve(backend: ScriptedBackend, protocol: str) -> Iterator[grpc.Channel]:
    with (
        running_server(backend, ServerSettings(protocol=protocol)) as target,
        grpc.insecure_channel(target) as channel,
    ):
        yield channel


@pytest.fixture
def core1_channel(backend: ScriptedBackend) -> Iterator[grpc.Channel]:
    yield from serve(backend, "core-1")


@pytest.fixture
def proto2019_channel(backend: ScriptedBackend) -> Iterator[grpc.Channel]:
    yield from serve(backend, "proto-2019")


def core1_appliance(*, image: bool = True, **fields: Any) -> Any:
    pb2 = client("core-1").pb2
    message = pb2.Appliance(
        identifier="app-1", image_list_identifier="list-1", vo="vo.example", mpuri="m", attributes=ATTRIBUTES
    )
    if image:
        message.image.CopyFrom(pb2.Image(location="/spool/app-1.qcow2", format=pb2.Image.QCOW2, uri="u"))
        message.image.checksum, message.image.size = SHA512, 9
    for name, value in fields.items():
        setattr(message, name, value)
    return message


def unary(channel: grpc.Channel, rpc: str, request: Any) -> tuple[str, str]:
    _, state = getattr(client("core-1").stub(channel), rpc).with_call(request)
    assert state.code() is OK
    return core1.outcome(state)


def reflected(channel: grpc.Channel) -> descriptor_pool.DescriptorPool:
    return descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))


# core-1


@pytest.mark.parametrize("error_class", list(STATUS_NAME_OF_ERROR), ids=lambda cls: cls.__name__)
def test_core1_errors_arrive_as_their_status_under_grpc_ok(
    core1_channel: grpc.Channel, backend: ScriptedBackend, error_class: type[errors.CkosError]
) -> None:
    backend.fail["add_appliance"] = error_class("the reason")
    status, message = unary(core1_channel, "AddAppliance", core1_appliance())
    assert status == STATUS_NAME_OF_ERROR[error_class]
    assert "the reason" in message
    assert "app-1" in message


def test_core1_success_is_reported_and_the_image_reaches_the_backend(
    core1_channel: grpc.Channel, backend: ScriptedBackend
) -> None:
    assert unary(core1_channel, "AddAppliance", core1_appliance()) == ("SUCCESS", "")
    ((method, (appliance, source)),) = backend.calls
    assert method == "add_appliance"
    assert isinstance(appliance, Appliance)
    assert appliance.image == ImageFacts("u", SHA512, 9, ImageFormat.QCOW2, "")
    assert source == ImageSource(TransferMode.LOCAL, "/spool/app-1.qcow2")
    # The attributes are the (opaque, echoed) digest; appid and base_mpuri come from them.
    assert json.loads(appliance.digest) == ATTRIBUTES
    assert (appliance.appid, appliance.base_mpuri) == ("1017", ATTRIBUTES["ad:base_mpuri"])


def test_core1_update_without_an_image_updates_the_metadata_only(
    core1_channel: grpc.Channel, backend: ScriptedBackend
) -> None:
    assert unary(core1_channel, "UpdateAppliance", core1_appliance(image=False)) == ("SUCCESS", "")
    assert unary(core1_channel, "UpdateAppliance", core1_appliance()) == ("SUCCESS", "")
    (metadata, (appliance,)), (update, (_, source)) = backend.calls
    assert (metadata, update) == ("update_appliance_metadata", "update_appliance")
    assert isinstance(appliance, Appliance)
    assert appliance.identifier == "app-1"
    assert appliance.image is None
    assert source == ImageSource(TransferMode.LOCAL, "/spool/app-1.qcow2")


def test_core1_pre_action_expires_and_post_action_collects(
    core1_channel: grpc.Channel, backend: ScriptedBackend
) -> None:
    empty = client("core-1").empty()
    assert unary(core1_channel, "PreAction", empty) == ("SUCCESS", "")
    assert unary(core1_channel, "PostAction", empty) == ("SUCCESS", "")
    assert [method for method, _ in backend.calls] == ["remove_expired_appliances", "post_action"]


def test_core1_an_unexpected_exception_is_a_plain_error(
    core1_channel: grpc.Channel, backend: ScriptedBackend
) -> None:
    backend.fail["remove_image_list"] = KeyError("surprise")
    request = client("core-1").pb2.ImageListIdentifier(image_list_identifier="list-9")
    status, message = unary(core1_channel, "RemoveImageList", request)
    assert status == "ERROR"
    assert "list-9" in message
    assert "internal error" in message


def test_core1_a_bad_enum_is_an_error_and_reaches_nothing(
    core1_channel: grpc.Channel, backend: ScriptedBackend
) -> None:
    message = core1_appliance()
    raw = message.SerializeToString() + bytes([0x72, 0x02, 0x18, 0x4D])  # image.format = 77, merged
    _, state = core1_channel.unary_unary(f"/{SERVICE}/UpdateAppliance", lambda b: b, lambda b: b).with_call(
        raw
    )
    assert state.code() is OK
    status, text = core1.outcome(state)
    assert status == "ERROR"
    assert "image.format" in text
    assert backend.calls == []


def test_core1_appliances_echo_the_attributes(core1_channel: grpc.Channel, backend: ScriptedBackend) -> None:
    digest = json.dumps(ATTRIBUTES, sort_keys=True, separators=(",", ":"))
    facts = ImageFacts("u", SHA512, 9, ImageFormat.QCOW2, "image-digest")
    backend.listed = [
        Appliance("app-1", "list-1", "vo", "m", digest=digest, image=facts),
        Appliance("app-2", "list-1", "vo", "m", digest="9574cb46" * 16, image=facts),  # stored by core 2.0
    ]
    request = client("core-1").pb2.ImageListIdentifier(image_list_identifier="list-1")
    stream = client("core-1").stub(core1_channel).Appliances(request)
    received = list(stream)
    assert core1.outcome(stream) == ("SUCCESS", "")
    assert [dict(item.attributes) for item in received] == [ATTRIBUTES, {}]
    assert all(item.image.checksum == SHA512 and item.image.uri == "u" for item in received)


@pytest.mark.parametrize("rpc", ["ImageLists", "Appliances"])
def test_core1_a_failing_stream_sends_nothing_and_ends_ok(
    core1_channel: grpc.Channel, backend: ScriptedBackend, rpc: str
) -> None:
    backend.lists = ["list-1"]
    backend.listed = [Appliance("app-1", "list-1", "vo", "m")]
    backend.fail["image_lists" if rpc == "ImageLists" else "appliances"] = errors.CatalogUnavailable("down")
    gen = client("core-1")
    request = (
        gen.empty() if rpc == "ImageLists" else gen.pb2.ImageListIdentifier(image_list_identifier="list-1")
    )
    stream = getattr(gen.stub(core1_channel), rpc)(request)
    assert list(stream) == []
    assert stream.code() is OK
    status, message = core1.outcome(stream)
    assert status == "ERROR_RESOURCE_RETRIEVAL"
    assert "down" in message


def test_core1_reflection_describes_the_core1_layout(core1_channel: grpc.Channel) -> None:
    pool = reflected(core1_channel)
    assert len(pool.FindServiceByName(SERVICE).methods_by_name) == 8
    fields = pool.FindMessageTypeByName("cloudkeeper_grpc.Appliance").fields_by_name
    assert (fields["image"].number, fields["attributes"].number) == (14, 15)
    assert "digest" not in fields


# proto-2019


def test_proto2019_round_trips_the_image_at_18(
    proto2019_channel: grpc.Channel, backend: ScriptedBackend
) -> None:
    pb2 = client("proto-2019").pb2
    image = pb2.Image(location="/spool/x", format=pb2.Image.OVA, uri="u", checksum=SHA512, size=9, digest="i")
    message = pb2.Appliance(
        identifier="app-1", image_list_identifier="list-1", vo="vo", mpuri="m", digest="d", image=image
    )
    client("proto-2019").stub(proto2019_channel).AddAppliance(message)
    ((_, (appliance, _)),) = backend.calls
    assert isinstance(appliance, Appliance)
    assert appliance.image == ImageFacts("u", SHA512, 9, ImageFormat.OVA, "i")
    assert appliance.digest == "d"
    backend.listed = [appliance]
    request = pb2.ImageListIdentifier(image_list_identifier="list-1")
    (echoed,) = client("proto-2019").stub(proto2019_channel).Appliances(request)
    assert echoed.HasField("image")
    assert (echoed.image.checksum, echoed.image.format, echoed.image.digest) == (SHA512, pb2.Image.OVA, "i")
    assert echoed.digest == "d"


def test_proto2019_reports_errors_as_status_codes(
    proto2019_channel: grpc.Channel, backend: ScriptedBackend
) -> None:
    backend.fail["update_appliance_metadata"] = errors.ApplianceNotFound("no such appliance")
    message = client("proto-2019").pb2.Appliance(
        identifier="app-1", image_list_identifier="l", vo="v", mpuri="m"
    )
    with pytest.raises(grpc.RpcError) as raised:
        client("proto-2019").stub(proto2019_channel).UpdateApplianceMetadata(message)
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND


def test_proto2019_refuses_a_core20_request_as_invalid_not_internal(
    proto2019_channel: grpc.Channel, backend: ScriptedBackend
) -> None:
    # Image at 17 is, in this layout, the string `checksum`: no image arrives.
    pb2 = client().pb2
    image = pb2.Image(location="/spool/x", uri="u", checksum=SHA512, size=9)
    message = pb2.Appliance(identifier="app-1", image_list_identifier="l", vo="v", mpuri="m", image=image)
    with pytest.raises(grpc.RpcError) as raised:
        client().stub(proto2019_channel).AddAppliance(message)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_proto2019_reflection_describes_the_2019_layout(proto2019_channel: grpc.Channel) -> None:
    pool = reflected(proto2019_channel)
    assert len(pool.FindServiceByName(SERVICE).methods_by_name) == 10
    fields = pool.FindMessageTypeByName("cloudkeeper_grpc.Appliance").fields_by_name
    assert (fields["checksum"].number, fields["image"].number) == (17, 18)

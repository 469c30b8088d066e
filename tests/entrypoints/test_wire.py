from typing import Any

import pytest
from attrs import evolve
from google.protobuf import message_factory
from hypothesis import given
from hypothesis import strategies as st

from ckos.domain.errors import InvalidRequest
from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.entrypoints.grpc import wire
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc.server import reflection_pool

SHA512 = "ab" * 64


def protobuf_class(name: str) -> Any:
    """The message class of the real protobuf runtime, from the committed descriptor set."""
    return message_factory.GetMessageClass(
        reflection_pool().FindMessageTypeByName(f"cloudkeeper_grpc.{name}")
    )


def full_message(**image: Any) -> pb.Appliance:
    return pb.Appliance(
        identifier="app-1",
        title="Image for Ubuntu",
        description="desc",
        mpuri="https://appdb/store/vo/image/x:1/",
        group="General group",
        ram=2048,
        core=2,
        version="22.04",
        architecture="x86_64",
        operating_system="Linux Ubuntu 22.04",
        vo="fedcloud.egi.eu",
        expiration_date=1_900_000_000,
        image_list_identifier="list-1",
        base_mpuri="https://appdb/store/vo/image/x/",
        appid="42",
        digest="appliance-digest",
        image=pb.Image(**image) if image else None,
    )


def test_inbound_maps_every_field() -> None:
    message = full_message(
        mode=pb.ImageMode.REMOTE,
        location="https://core:8443/file",
        format=pb.ImageFormat.VMDK,
        uri="https://origin/img.ova",
        checksum=SHA512,
        size=123,
        username="user",
        password="secret",
        digest="image-digest",
    )
    appliance, source = wire.appliance_from_wire(message)
    assert appliance == Appliance(
        identifier="app-1",
        image_list_identifier="list-1",
        vo="fedcloud.egi.eu",
        mpuri="https://appdb/store/vo/image/x:1/",
        title="Image for Ubuntu",
        description="desc",
        group="General group",
        ram=2048,
        core=2,
        version="22.04",
        architecture="x86_64",
        operating_system="Linux Ubuntu 22.04",
        expiration_date=1_900_000_000,
        base_mpuri="https://appdb/store/vo/image/x/",
        appid="42",
        digest="appliance-digest",
        image=ImageFacts(
            uri="https://origin/img.ova",
            checksum=SHA512,
            size=123,
            format=ImageFormat.VMDK,
            digest="image-digest",
        ),
    )
    assert source == ImageSource(TransferMode.REMOTE, "https://core:8443/file", "user", "secret")


def test_local_image_with_every_default_is_present() -> None:
    # Field 17 holding an all-default Image (LOCAL=0, RAW=0): present, though nothing in it is set.
    sent = protobuf_class("Appliance")(identifier="app-1")
    sent.image.SetInParent()
    data = sent.SerializeToString()
    assert data.endswith(b"\x8a\x01\x00")  # field 17, length-delimited, empty
    appliance, source = wire.appliance_from_wire(pb.Appliance.parse(data))
    assert source == ImageSource(TransferMode.LOCAL, "")
    assert appliance.image is not None
    assert appliance.image.format is ImageFormat.RAW


def test_no_field_17_means_no_image() -> None:
    appliance, source = wire.appliance_from_wire(pb.Appliance.parse(bytes(full_message())))
    assert appliance.image is None
    assert source is None


def test_checksum_is_lower_cased() -> None:
    appliance, _ = wire.appliance_from_wire(full_message(checksum=SHA512.upper(), location="/x"))
    assert appliance.image is not None
    assert appliance.image.checksum == SHA512


@pytest.mark.parametrize("field", ["format", "mode"])
def test_unknown_enum_number_is_invalid_request(field: str) -> None:
    sent = protobuf_class("Appliance")(identifier="app-1")
    setattr(sent.image, field, 99)  # proto3 enums are open: the real runtime sends it as is
    with pytest.raises(InvalidRequest, match=rf"app-1.*image\.{field}.*99"):
        wire.appliance_from_wire(pb.Appliance.parse(sent.SerializeToString()))


def test_raw_int_enum_is_invalid_request() -> None:
    message = full_message(location="/x")
    assert message.image is not None
    message.image.format = 42  # type: ignore[assignment]
    with pytest.raises(InvalidRequest, match="42"):
        wire.appliance_from_wire(message)


def test_formats_match_by_name_both_ways() -> None:
    assert {member.name for member in ImageFormat} == {member.name for member in pb.ImageFormat}
    assert {member.name for member in TransferMode} == {member.name for member in pb.ImageMode}


def test_outbound_carries_the_stored_facts_and_no_credentials() -> None:
    inbound = full_message(
        mode=pb.ImageMode.REMOTE,
        location="https://core/f",
        username="user",
        password="secret",
        uri="u",
        checksum=SHA512,
        size=5,
        format=pb.ImageFormat.QCOW2,
        digest="d",
    )
    appliance, _ = wire.appliance_from_wire(inbound)
    data = bytes(wire.appliance_to_wire(appliance))
    received = protobuf_class("Appliance").FromString(data)
    assert received.HasField("image")
    assert (received.image.uri, received.image.checksum, received.image.size) == ("u", SHA512, 5)
    assert (received.image.format, received.image.digest) == (pb.ImageFormat.QCOW2, "d")
    assert not received.image.location
    assert not received.image.username
    assert not received.image.password
    assert b"secret" not in data


def test_outbound_without_image_has_no_field_17() -> None:
    appliance, _ = wire.appliance_from_wire(full_message())
    received = protobuf_class("Appliance").FromString(bytes(wire.appliance_to_wire(appliance)))
    assert not received.HasField("image")
    assert received.identifier == "app-1"


@pytest.mark.parametrize(
    "appliance",
    [
        Appliance("app-1", "list-1", "vo", "mpuri", core=2**31),
        Appliance("app-1", "list-1", "vo", "mpuri", ram=2**63),
        Appliance("app-1", "list-1", "vo", "mpuri", expiration_date=-(2**63) - 1),
        Appliance(
            "app-1", "list-1", "vo", "mpuri", image=ImageFacts("u", SHA512, 2**64, ImageFormat.RAW, "")
        ),
    ],
)
def test_outbound_refuses_numbers_the_wire_cannot_carry(appliance: Appliance) -> None:
    with pytest.raises(ValueError, match="app-1"):
        wire.appliance_to_wire(appliance)


texts = st.text(st.characters(codec="utf-8"), max_size=20)
int64s = st.integers(-(2**63), 2**63 - 1)
facts = st.builds(
    ImageFacts,
    uri=texts,
    checksum=st.text("0123456789abcdef", min_size=128, max_size=128),
    size=int64s,
    format=st.sampled_from(ImageFormat),
    digest=texts,
)
appliances = st.builds(
    Appliance,
    identifier=texts,
    image_list_identifier=texts,
    vo=texts,
    mpuri=texts,
    title=texts,
    description=texts,
    group=texts,
    ram=int64s,
    core=st.integers(-(2**31), 2**31 - 1),
    version=texts,
    architecture=texts,
    operating_system=texts,
    expiration_date=int64s,
    base_mpuri=texts,
    appid=texts,
    digest=texts,
    image=st.none() | facts,
)


@given(appliances)
def test_round_trip_through_bytes(appliance: Appliance) -> None:
    data = bytes(wire.appliance_to_wire(appliance))
    back, source = wire.appliance_from_wire(pb.Appliance.parse(data))
    assert back == appliance
    # Outbound never sets a location: what comes back is an image without a source to read.
    assert (source is None) == (appliance.image is None)
    if source is not None:
        assert source == ImageSource(TransferMode.LOCAL, "")


def test_the_extremes_of_each_type_pass() -> None:
    # Guards the range check against being too strict: the extremes of each type pass.
    appliance = evolve(Appliance("a", "l", "v", "m"), core=2**31 - 1, ram=2**63 - 1, expiration_date=-(2**63))
    assert wire.appliance_to_wire(appliance).core == 2**31 - 1

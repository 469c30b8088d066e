"""The core 1.x and 2019 layouts translate to and from core 2.0 without losing a field."""

from __future__ import annotations

from typing import Any

from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as core20
from ckos.entrypoints.grpc._generated_core1 import cloudkeeper_grpc as core1
from ckos.entrypoints.grpc._generated_proto2019 import cloudkeeper_grpc as proto2019
from ckos.entrypoints.grpc.layouts import from_core1, from_proto2019, to_core1, to_proto2019

COMMON: dict[str, Any] = {
    "identifier": "1f6d8c2a",
    "title": "Image for EGI Ubuntu 22.04 [Ubuntu/22.04/KVM]",
    "description": "Ubuntu",
    "mpuri": "https://appdb.egi.eu/store/vo/image/1f6d8c2a:1/",
    "group": "General group",
    "ram": 1073741824,
    "core": 2,
    "version": "2022.01",
    "architecture": "x86_64",
    "operating_system": "Linux Ubuntu 22.04",
    "vo": "vo.example.eu",
    "expiration_date": 4082400000,
    "image_list_identifier": "a3d1c9e2",
}
ATTRIBUTES = {
    "ad:appid": "1017",
    "ad:base_mpuri": "https://appdb.egi.eu/store/vm/image/1f6d8c2a:1/",
    "x": "y",
}


def _core1_image() -> core1.Image:
    return core1.Image(
        mode=core1.ImageMode.REMOTE,
        location="https://127.0.0.1:8443/image.qcow2",
        format=core1.ImageFormat.QCOW2,
        uri="https://cloud-images.example.org/image.qcow2",
        checksum="ab" * 64,
        size=196616,
        username="user",
        password="secret",
    )


def test_a_core1_appliance_becomes_core20_with_its_attributes_as_the_digest() -> None:
    message = core1.Appliance(**COMMON, image=_core1_image(), attributes=ATTRIBUTES)

    converted = from_core1(message)

    assert {name: getattr(converted, name) for name in COMMON} == COMMON
    assert converted.appid == "1017"
    assert converted.base_mpuri == ATTRIBUTES["ad:base_mpuri"]
    assert converted.image is not None
    assert converted.image.mode == core20.ImageMode.REMOTE
    assert converted.image.format == core20.ImageFormat.QCOW2
    assert (converted.image.location, converted.image.username, converted.image.password) == (
        "https://127.0.0.1:8443/image.qcow2",
        "user",
        "secret",
    )
    assert converted.image.size == 196616
    assert to_core1(converted).attributes == ATTRIBUTES


def test_core1_presence_of_the_image_survives_a_local_image_with_default_fields() -> None:
    message = core1.Appliance(**COMMON, image=core1.Image())

    assert from_core1(message).image is not None
    assert from_core1(core1.Appliance(**COMMON)).image is None


def test_a_stored_core20_appliance_reads_under_core1_without_attributes() -> None:
    stored = core20.Appliance(**COMMON, digest="9574cb46" * 16, image=core20.Image(uri="u", digest="d"))

    message = to_core1(stored)

    assert message.attributes == {}
    assert message.image is not None
    assert message.image.uri == "u"
    assert {name: getattr(message, name) for name in COMMON} == COMMON


def test_the_2019_layout_keeps_every_core20_field() -> None:
    image = proto2019.Image(uri="u", checksum="c" * 128, size=5, format=proto2019.ImageFormat.OVA, digest="i")
    message = proto2019.Appliance(
        **COMMON, base_mpuri="b", appid="7", digest="d", checksum="ignored", image=image
    )

    converted = from_proto2019(message)

    assert converted.image is not None
    assert converted.image.format == core20.ImageFormat.OVA
    assert (converted.digest, converted.appid, converted.base_mpuri) == ("d", "7", "b")
    back = to_proto2019(converted)
    assert back.image == image
    assert bytes(back) != bytes(converted)  # the image travels under another number on the wire

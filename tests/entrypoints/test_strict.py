"""Strict parsing: what betterproto2 alone would accept silently is refused."""

from __future__ import annotations

import pytest

from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc.strict import MalformedRequest, parse_strictly

IMAGE_FIELD = bytes([0x8A, 0x01])  # field 17, length-delimited


def test_a_well_formed_message_parses_as_betterproto2_would() -> None:
    message = pb.Appliance(identifier="x", ram=2048, image=pb.Image(checksum="c", size=5))

    assert parse_strictly(pb.Appliance, bytes(message)) == message


def test_a_truncated_string_is_refused() -> None:
    truncated = bytes([0x0A, 0x05]) + b"ab"  # identifier announced as 5 bytes, 2 sent

    with pytest.raises(MalformedRequest, match=r"not a valid cloudkeeper_grpc\.Appliance"):
        parse_strictly(pb.Appliance, truncated)


def test_a_field_with_the_wrong_wire_type_is_refused() -> None:
    ram_as_bytes = bytes([0x32, 0x02]) + b"ab"  # field 6 (int64) sent length-delimited

    with pytest.raises(MalformedRequest, match=r"cloudkeeper_grpc\.Appliance\.ram"):
        parse_strictly(pb.Appliance, ram_as_bytes)


def test_a_mistyped_field_inside_the_image_is_refused() -> None:
    size_as_bytes = bytes([0x32, 0x01]) + b"a"  # Image.size (field 6) sent length-delimited

    with pytest.raises(MalformedRequest, match=r"cloudkeeper_grpc\.Image\.size"):
        parse_strictly(pb.Appliance, IMAGE_FIELD + bytes([len(size_as_bytes)]) + size_as_bytes)


def test_a_field_this_layout_does_not_know_is_ignored_as_proto3_says() -> None:
    unknown = bytes([0xF8, 0x06, 0x01])  # field 111, varint

    assert parse_strictly(pb.Appliance, bytes(pb.Appliance(identifier="x")) + unknown).identifier == "x"


def test_invalid_utf8_in_a_string_is_refused() -> None:
    with pytest.raises(MalformedRequest):
        parse_strictly(pb.Appliance, bytes([0x0A, 0x02, 0xFF, 0xFE]))

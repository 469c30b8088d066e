"""Whatever arrives on the wire, ckos answers with a standard code and a failed call changes nothing."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support import core
from support.independent_client import client, method
from support.site import CENTOS, LISTS, OVA, UBUNTU, Site, make_site

UNARY = [
    "PreAction",
    "PostAction",
    "AddAppliance",
    "UpdateAppliance",
    "UpdateApplianceMetadata",
    "RemoveAppliance",
    "RemoveImageList",
    "RemoveExpiredAppliances",
]
STREAMING = ["ImageLists", "Appliances"]
APPLIANCE_RPCS = ["AddAppliance", "UpdateAppliance", "UpdateApplianceMetadata", "RemoveAppliance"]
STANDARD = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAVAILABLE,
}
FUZZ = settings(max_examples=150, deadline=None)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, grpc.Channel, Path]]:
    """A site holding the v1 list, one channel to it, and an offered file that stays in place."""
    for site in make_site(tmp_path_factory.mktemp("fuzz")):
        site.sync("v1")
        offered = site.spool / "offered.qcow2"
        offered.write_bytes(OFFERED)
        with grpc.insecure_channel(site.target) as channel:
            yield site, channel, offered


OFFERED = core.image_bytes(core.ImageList.load(LISTS["v2"]).entry(UBUNTU))


def valid_appliance(location: str) -> bytes:
    """A well-formed AddAppliance request for a new version of Ubuntu, offering `location`."""
    listed = core.ImageList.load(LISTS["v2"])
    item = listed.entry(UBUNTU)
    message = core.to_appliance(client().pb2, listed, item, location=location, fmt="QCOW2")
    data: bytes = message.SerializeToString()
    return data


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """The message with a few bytes flipped, dropped or inserted, or cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["flip", "drop", "insert", "cut"]))
        if how == "flip" and where < len(data):
            data[where] ^= draw(st.integers(1, 255))
        elif how == "drop":
            del data[where : where + draw(st.integers(1, 8))]
        elif how == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif how == "cut":
            del data[where:]
    return bytes(data)


def raw_call(channel: grpc.Channel, rpc: str, payload: bytes) -> grpc.StatusCode:
    """Send the bytes as the request of the RPC, without any serialization."""
    try:
        if rpc in STREAMING:
            stream: grpc.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(method(rpc))
            for _ in stream(payload):
                pass
        else:
            unary: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method(rpc))
            unary(payload)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def snapshot(site: Site) -> tuple[list[Any], dict[str, bytes]]:
    records = copy.deepcopy(site.records())
    return records, {record.id: site.catalog.data(record.id) for record in records}


@pytest.mark.parametrize("rpc", UNARY + STREAMING)
@FUZZ
@given(data=st.data())
def test_arbitrary_bytes_never_crash_a_handler(
    fuzzed: tuple[Site, grpc.Channel, Path], rpc: str, data: st.DataObject
) -> None:
    site, channel, offered = fuzzed
    payload = data.draw(st.one_of(st.binary(max_size=600), mutated(valid_appliance(str(offered)))))
    before = snapshot(site)
    code = raw_call(channel, rpc, payload)
    assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (rpc, payload)
    if code is not grpc.StatusCode.OK:
        assert snapshot(site) == before


def text() -> st.SearchStrategy[str]:
    # Protobuf strings are UTF-8: lone surrogates cannot even be sent.
    unicode = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
    return st.one_of(st.just(""), unicode, st.sampled_from(["\x00", "a\x00b", "é☃𝄞", " "]))


TEXT_FIELDS = [
    "identifier",
    "title",
    "description",
    "mpuri",
    "group",
    "version",
    "architecture",
    "operating_system",
    "vo",
    "image_list_identifier",
    "base_mpuri",
    "appid",
    "digest",
]
IMAGE_TEXT_FIELDS = ["location", "uri", "checksum", "username", "password", "digest"]
NUMBERS = {"ram": INT64, "core": INT32, "expiration_date": INT64}
IMAGE_NUMBERS = {"mode": INT32, "format": INT32, "size": INT64, "container_format": INT32}
FIELDS = [
    *TEXT_FIELDS,
    *NUMBERS,
    *(f"image.{name}" for name in [*IMAGE_TEXT_FIELDS, *IMAGE_NUMBERS]),
    "no image",
]
IDENTIFIERS = st.sampled_from([UBUNTU, CENTOS, OVA, "5d4c3b2a-0000-5000-8000-00000000f022"])


def locations(spool: Path, offered: Path) -> st.SearchStrategy[str]:
    odd = [spool / "missing.img", spool, spool / ".." / "outside.img", Path("/etc/passwd"), Path("/dev/zero")]
    return st.one_of(st.sampled_from([str(offered), "relative.img", *map(str, odd)]), text())


@st.composite
def appliances(draw: st.DrawFn, spool: Path) -> tuple[Any, Path, bytes]:
    """A well-formed appliance offering fresh bytes, with a few fields replaced by anything.

    Fresh bytes make most calls read the file: bytes a live image already holds are not read again.
    """
    content = draw(st.binary(max_size=256))
    offered = spool / f"{hashlib.sha256(content).hexdigest()}.img"
    offered.write_bytes(content)
    listed = core.ImageList.load(LISTS["v2"])
    item = listed.entry(UBUNTU)
    appliance = core.to_appliance(client().pb2, listed, item, location=str(offered), fmt="QCOW2")
    appliance.identifier = draw(IDENTIFIERS)
    appliance.image.checksum = hashlib.sha512(content).hexdigest()
    appliance.image.size = len(content)
    for name in draw(st.sets(st.sampled_from(FIELDS), max_size=4)):
        target, _, field = name.rpartition(".")
        holder = appliance.image if target == "image" else appliance
        if name == "no image":
            appliance.ClearField("image")
        elif name == "image.location":
            appliance.image.location = draw(locations(spool, offered))
        elif field in TEXT_FIELDS or (target and field in IMAGE_TEXT_FIELDS):
            setattr(holder, field, draw(text()))
        else:
            setattr(holder, field, draw(IMAGE_NUMBERS[field] if target else NUMBERS[field]))
    return appliance, offered, content


@pytest.mark.parametrize("rpc", APPLIANCE_RPCS)
@FUZZ
@given(data=st.data())
def test_random_appliances_get_standard_codes_and_failures_change_nothing(
    fuzzed: tuple[Site, grpc.Channel, Path], rpc: str, data: st.DataObject
) -> None:
    site, channel, _ = fuzzed
    appliance, offered, content = data.draw(appliances(site.spool))
    before = snapshot(site)
    try:
        getattr(client().stub(channel), rpc)(appliance)
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()
    assert code in STANDARD, (rpc, appliance)
    if code is not grpc.StatusCode.OK:
        assert snapshot(site) == before
    assert offered.read_bytes() == content  # read, never changed


def test_a_truncated_request_is_an_invalid_argument(fuzzed: tuple[Site, grpc.Channel, Path]) -> None:
    site, channel, offered = fuzzed
    before = snapshot(site)
    assert (
        raw_call(channel, "AddAppliance", valid_appliance(str(offered))[:-1])
        is grpc.StatusCode.INVALID_ARGUMENT
    )
    assert snapshot(site) == before


# Known fields with another wire type: protobuf keeps them as unknown fields and parses the rest.
OTHER_WIRE_TYPES = {
    "identifier as a varint": b"\x08\x01",
    "ram as packed varints": b"\x32\x01\x01",
    "image as a varint": b"\x88\x01\x01",
    "image.checksum as a varint": b"\x8a\x01\x02\x28\x01",
}


@pytest.mark.parametrize("case", sorted(OTHER_WIRE_TYPES))
@pytest.mark.parametrize("rpc", ["AddAppliance", "UpdateApplianceMetadata", "RemoveAppliance", "Appliances"])
def test_a_known_field_with_another_wire_type_is_no_crash(
    fuzzed: tuple[Site, grpc.Channel, Path], rpc: str, case: str
) -> None:
    site, channel, offered = fuzzed
    valid = valid_appliance(str(offered))
    payload = valid + OTHER_WIRE_TYPES[case]  # the last occurrence of a field wins
    parse = client().pb2.ImageListIdentifier if rpc == "Appliances" else client().pb2.Appliance
    parse.FromString(payload)  # the reference implementation accepts it
    before = snapshot(site)
    code = raw_call(channel, rpc, payload)
    assert code in STANDARD
    if code is not grpc.StatusCode.OK:
        assert snapshot(site) == before


@pytest.mark.parametrize("field", ["identifier", "vo", "image_list_identifier"])
def test_a_long_but_acceptable_field_is_answered_with_its_own_outcome(
    fuzzed: tuple[Site, grpc.Channel, Path], field: str
) -> None:
    # 9000 characters: within what ckos accepts, but far over grpc's limit for status details.
    _site, channel, offered = fuzzed
    appliance = client().pb2.Appliance.FromString(valid_appliance(str(offered)))
    setattr(appliance, field, "y" * 9000)
    try:
        client().stub(channel).AddAppliance(appliance)
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()
    expected = grpc.StatusCode.FAILED_PRECONDITION if field == "vo" else grpc.StatusCode.OK
    assert code is expected


@pytest.mark.parametrize("field", ["identifier", "vo", "image_list_identifier"])
@pytest.mark.parametrize("rpc", ["AddAppliance", "UpdateApplianceMetadata", "RemoveAppliance"])
def test_an_oversized_field_gets_a_standard_code(
    fuzzed: tuple[Site, grpc.Channel, Path], rpc: str, field: str
) -> None:
    site, channel, offered = fuzzed
    appliance = client().pb2.Appliance.FromString(valid_appliance(str(offered)))
    setattr(appliance, field, "x" * 70000)  # over the 65535 characters ckos accepts in a text field
    before = snapshot(site)
    try:
        getattr(client().stub(channel), rpc)(appliance)
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()
    if rpc == "RemoveAppliance":  # removal needs only identifier and vo: an unknown one is removed already
        assert code in STANDARD
    else:
        assert code is grpc.StatusCode.INVALID_ARGUMENT
    if code is not grpc.StatusCode.OK:
        assert snapshot(site) == before

"""Whatever reaches a core-1 server, the call ends with gRPC OK and a `status` the core 1.x knows;
any attributes map it accepts is echoed exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckos.entrypoints.grpc.status_names import STATUS_NAMES
from support import core, core1
from support.independent_client import client, method
from support.site import LIST_ID, LISTS, UBUNTU, Site, make_site

RPCS = ["PreAction", "PostAction", "AddAppliance", "UpdateAppliance", "RemoveAppliance", "RemoveImageList"]
STREAMS = ["ImageLists", "Appliances"]
FUZZ = settings(max_examples=40, deadline=None)
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)  # valid UTF-8


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, grpc.Channel, Path]]:
    """A core-1 site holding the v1 list, one channel to it, and an offered file that stays in place."""
    for site in make_site(tmp_path_factory.mktemp("fuzz-core1"), protocol="core-1"):
        site.sync("v1")
        offered = site.spool / "offered.qcow2"
        offered.write_bytes(core.image_bytes(core.ImageList.load(LISTS["v1"]).entry(UBUNTU)))
        with grpc.insecure_channel(site.target) as channel:
            yield site, channel, offered


def raw_outcome(channel: grpc.Channel, rpc: str, payload: bytes) -> tuple[grpc.StatusCode, str]:
    """Send the bytes as the request of the RPC; the gRPC code and the trailing status."""
    if rpc in STREAMS:
        streaming: grpc.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(method(rpc))
        stream: Any = streaming(payload)
        for _ in stream:
            pass
        return stream.code(), core1.outcome(stream)[0]
    unary: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method(rpc))
    _, call = unary.with_call(payload)
    return call.code(), core1.outcome(call)[0]


@pytest.mark.parametrize("rpc", RPCS + STREAMS)
@FUZZ
@given(payload=st.binary(max_size=120))
def test_any_bytes_end_ok_with_a_known_status(
    fuzzed: tuple[Site, grpc.Channel, Path], rpc: str, payload: bytes
) -> None:
    _, channel, _ = fuzzed
    code, status = raw_outcome(channel, rpc, payload)
    assert code is grpc.StatusCode.OK
    assert status in STATUS_NAMES


@FUZZ
@given(attributes=st.dictionaries(TEXT, TEXT, max_size=6))
def test_any_attributes_map_is_echoed_exactly(
    fuzzed: tuple[Site, grpc.Channel, Path], attributes: dict[str, str]
) -> None:
    site, channel, offered = fuzzed
    listed = core.ImageList.load(LISTS["v1"])
    gen = client("core-1")
    request = core1.to_appliance(gen.pb2, listed, listed.entry(UBUNTU), location=str(offered), fmt="QCOW2")
    request.attributes.clear()
    request.attributes.update(attributes)
    _, call = gen.stub(channel).AddAppliance.with_call(request)
    assert core1.outcome(call) == ("SUCCESS", "")
    stream = gen.stub(channel).Appliances(gen.pb2.ImageListIdentifier(image_list_identifier=LIST_ID))
    (echoed,) = [item for item in stream if item.identifier == UBUNTU]
    assert dict(echoed.attributes) == attributes
    assert len(site.live()) == 3  # the same bytes: one image, its metadata rewritten

"""The recorded session, by a core built from the 2019 proto file (image at 18), over the in-memory catalog.

The client is generated from proto/proto-2019/cloudkeeper.proto, independently of ckos.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from support import core
from support.independent_client import client
from support.site import CENTOS, LISTS, RECORDED, UBUNTU, Site, make_site

LISTING = ["PreAction", "RemoveExpiredAppliances", "ImageLists", "Appliances", "PostAction"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path, protocol="proto-2019")


def expected(name: str, identifier: str) -> Any:
    listed = core.ImageList.load(LISTS[name])
    item = listed.entry(identifier)
    return core.to_appliance(client("proto-2019").pb2, listed, item, location="", fmt="QCOW2")


def test_add_list_and_update_round_trip(site: Site) -> None:
    first = site.sync("v1")
    assert first.sequence() == RECORDED["v1"]
    assert {call.code for call in first.calls} == {grpc.StatusCode.OK}
    received = sorted(site.appliances(), key=lambda a: a.identifier)
    assert received == [expected("v1", identifier) for identifier in sorted(site.live())]
    for appliance in received:
        assert core.missing_fields(appliance) == []
        # On the wire the image is field 18: the core 2.0 layout (image at 17) sees none.
        assert appliance.HasField("image")
        assert not client().pb2.Appliance.FromString(appliance.SerializeToString()).HasField("image")

    before = site.snapshot()
    assert [rpc for rpc, _ in site.sync("v1").sequence()] == LISTING
    assert site.snapshot() == before

    v1 = site.live()
    second = site.sync("v2")
    assert second.sequence() == RECORDED["v2"]  # with UpdateAppliance and UpdateApplianceMetadata
    assert second.exit_code == 0
    live = site.live()
    assert live[UBUNTU].id != v1[UBUNTU].id
    assert site.data(live[UBUNTU].id) == core.image_bytes(core.ImageList.load(LISTS["v2"]).entry(UBUNTU))
    assert live[CENTOS].id == v1[CENTOS].id
    (centos,) = [a for a in site.appliances() if a.identifier == CENTOS]
    assert centos == expected("v2", CENTOS)

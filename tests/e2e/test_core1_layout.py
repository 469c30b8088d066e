"""A simulated core 1.x against the real server speaking the core-1 layout, over the in-memory catalog.

Every call ends with gRPC OK; the outcome is the trailing metadata `status` (and `message`).
The client is generated from proto/core-1/cloudkeeper.proto, independently of ckos.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from ckos.domain.errors import CatalogUnavailable
from ckos.domain.model import ProjectRef
from support import core, core1
from support.independent_client import client, method
from support.site import CENTOS, DEBIAN, LIST_ID, LISTS, OVA, PROJECT, UBUNTU, VO, Site, make_site

OK = grpc.StatusCode.OK
LIVE_AFTER = {"v1": {UBUNTU, CENTOS, OVA}, "v2": {UBUNTU, CENTOS, DEBIAN}, "v3": {UBUNTU, DEBIAN}}
LISTING = ["PreAction", "ImageLists", "Appliances", "PostAction"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path, protocol="core-1")


def pb2() -> Any:
    return client("core-1").pb2


def entry(name: str, identifier: str) -> Any:
    return core.ImageList.load(LISTS[name]).entry(identifier)


def call(site: Site, rpc: str, request: Any) -> tuple[str, str]:
    """One unary call as the core 1.x makes it: gRPC OK, and the trailing (status, message)."""
    with grpc.insecure_channel(site.target) as channel:
        _, state = getattr(client("core-1").stub(channel), rpc).with_call(request)
    assert state.code() is OK
    return core1.outcome(state)


def metadata_update(site: Site, name: str, identifier: str, **changes: str) -> tuple[str, str]:
    """UpdateAppliance without an image, as the core 1.x sends a change of metadata only."""
    listed = core.ImageList.load(LISTS[name])
    changed = {**listed.entry(identifier), **changes}
    request = core1.to_appliance(pb2(), listed, changed)
    assert not request.HasField("image")
    return call(site, "UpdateAppliance", request)


def assert_succeeded(run: core.Run) -> None:
    assert {c.code for c in run.calls} == {OK}
    assert set(run.statuses().values()) == {"SUCCESS"}
    assert run.exit_code == 0


def test_the_session_step_by_step(site: Site) -> None:
    first = site.sync("v1")
    assert first.sequence() == [
        ("PreAction", ""),
        ("ImageLists", ""),
        *[("AddAppliance", identifier) for identifier in (UBUNTU, CENTOS, OVA)],
        ("PostAction", ""),
    ]
    assert_succeeded(first)
    v1 = site.live()
    assert set(v1) == LIVE_AFTER["v1"]
    for identifier, record in v1.items():
        assert site.data(record.id) == core.image_bytes(entry("v1", identifier))

    before = site.snapshot()
    again = site.sync("v1")
    assert [rpc for rpc, _ in again.sequence()] == LISTING
    assert_succeeded(again)
    assert site.snapshot() == before

    v2 = site.sync("v2")
    assert_succeeded(v2)
    assert v2.sequence()[:5] == [
        ("PreAction", ""),
        ("ImageLists", ""),
        ("Appliances", LIST_ID),
        ("RemoveAppliance", OVA),
        ("AddAppliance", DEBIAN),
    ]
    assert sorted(v2.sequence()[5:-1]) == sorted([("UpdateAppliance", CENTOS), ("UpdateAppliance", UBUNTU)])
    live = site.live()
    assert set(live) == LIVE_AFTER["v2"]
    assert live[UBUNTU].id != v1[UBUNTU].id  # a new image: its bytes changed
    assert site.data(live[UBUNTU].id) == core.image_bytes(entry("v2", UBUNTU))
    assert live[CENTOS].id == v1[CENTOS].id  # metadata only: in place, same data
    assert live[CENTOS].name == entry("v2", CENTOS)["dc:title"]
    assert site.data(live[CENTOS].id) == site.data(v1[CENTOS].id)

    v3 = site.sync("v3")
    assert_succeeded(v3)
    assert v3.sequence()[3:-1] == [("RemoveAppliance", CENTOS)]
    assert set(site.live()) == LIVE_AFTER["v3"]

    gone = site.sync("expired")
    assert_succeeded(gone)
    assert gone.sequence() == [
        ("PreAction", ""),
        ("ImageLists", ""),
        ("RemoveImageList", LIST_ID),
        ("PostAction", ""),
    ]
    assert site.live() == {}


def test_appliances_echo_the_attributes_and_the_image(site: Site) -> None:
    site.sync("v1")
    listed = core.ImageList.load(LISTS["v1"])
    received = site.appliances()
    assert sorted(a.identifier for a in received) == sorted(LIVE_AFTER["v1"])
    for appliance in received:
        item = listed.entry(appliance.identifier)
        assert core.missing_fields(appliance) == []
        assert dict(appliance.attributes) == core1.attributes(item)
        expected = core1.to_appliance(pb2(), listed, item, location="", fmt="QCOW2")
        expected.image.ClearField("location")
        assert appliance == expected


def test_a_metadata_update_without_an_image_keeps_the_image_and_its_data(site: Site) -> None:
    site.sync("v1")
    before = site.live()[CENTOS]

    status, message = metadata_update(site, "v1", CENTOS, **{"dc:title": "Image for CentOS, renamed"})

    assert (status, message) == ("SUCCESS", "")
    after = site.live()[CENTOS]
    assert after.id == before.id
    assert after.name == "Image for CentOS, renamed"
    assert site.data(after.id) == site.data(before.id) == core.image_bytes(entry("v1", CENTOS))
    for key in ("APPLIANCE_IMAGE_CHECKSUM", "APPLIANCE_IMAGE_SIZE", "APPLIANCE_IMAGE_URI"):
        assert after.properties[key] == before.properties[key]
    (echoed,) = [a for a in site.appliances() if a.identifier == CENTOS]
    assert echoed.attributes["dc:title"] == "Image for CentOS, renamed"
    assert echoed.image.checksum == hashlib.sha512(core.image_bytes(entry("v1", CENTOS))).hexdigest()
    # The next run sees the list's attributes differ, and sends them back the same way.
    run = site.sync("v1")
    assert run.sequence()[3:-1] == [("UpdateAppliance", CENTOS)]
    assert site.live()[CENTOS].id == before.id
    assert site.live()[CENTOS].name == entry("v1", CENTOS)["dc:title"]


def test_a_metadata_update_of_an_unknown_appliance_is_reported(site: Site) -> None:
    site.sync("v1")
    before = site.snapshot()

    status, message = metadata_update(site, "v1", DEBIAN)  # never added: expired in v1

    assert status == "ERROR_APPLIANCE_NOT_FOUND"
    assert DEBIAN in message
    assert site.snapshot() == before


def test_an_unmapped_vo_is_reported_and_changes_nothing(site: Site, tmp_path: Path) -> None:
    text = LISTS["v1"].read_text().replace('"ad:vo": "vo.example.eu"', '"ad:vo": "unmapped.example.org"')
    unmapped = tmp_path / "unmapped.json"
    unmapped.write_text(text)
    run = core1.run(site.target, unmapped, site.spool, now=site.clock.value)
    adds = [c for c in run.calls if c.rpc == "AddAppliance"]
    assert [c.subject for c in adds] == [UBUNTU, CENTOS, OVA]
    assert {c.code for c in run.calls} == {OK}
    assert {c.status for c in adds} == {"ERROR_RESOURCE_NOT_FOUND"}
    assert all("unmapped.example.org" in c.details for c in adds)
    assert run.statuses()[("PostAction", "")] == "SUCCESS"
    assert run.exit_code == 12
    assert site.records() == []


def test_a_wrong_checksum_is_reported_and_the_next_run_adds(site: Site) -> None:
    def altered(identifier: str, path: Path) -> None:
        if identifier == CENTOS:
            path.write_bytes(path.read_bytes() + b"\0")

    run = site.sync("v1", tamper=altered)
    assert run.statuses()[("AddAppliance", CENTOS)] == "ERROR_APPLIANCE_TRANSFER"
    (failed,) = [c for c in run.calls if c.subject == CENTOS]
    assert CENTOS in failed.details
    assert failed.code is OK
    assert run.exit_code == 12
    assert set(site.live()) == {UBUNTU, OVA}
    assert all(record.properties.get("APPLIANCE_ID") != CENTOS for record in site.records())
    again = site.sync("v1")
    assert again.sequence()[3:-1] == [("AddAppliance", CENTOS)]
    assert_succeeded(again)
    assert set(site.live()) == LIVE_AFTER["v1"]


def test_a_malformed_request_is_an_error_status_not_a_grpc_failure(site: Site) -> None:
    truncated = bytes([0x0A, 0x05]) + b"ab"  # identifier announced as 5 bytes, 2 sent
    with grpc.insecure_channel(site.target) as channel:
        add = channel.unary_unary(method("AddAppliance"), lambda data: data, lambda data: data)
        _, state = add.with_call(truncated)
    assert state.code() is OK
    status, message = core1.outcome(state)
    assert status == "ERROR"
    assert "malformed" in message
    assert site.records() == []


def test_a_failing_listing_sends_no_item_and_reports_why(tmp_path: Path) -> None:
    other = ProjectRef(name="other", domain="default")
    for site in make_site(tmp_path, {VO: PROJECT, "other.example.org": other}, protocol="core-1"):
        site.sync("v1")
        before = copy.deepcopy(site.records())
        site.catalog.faults.fail_project(other, CatalogUnavailable("glance of project other is down"))
        with grpc.insecure_channel(site.target) as channel:
            stream = (
                client("core-1")
                .stub(channel)
                .Appliances(pb2().ImageListIdentifier(image_list_identifier=LIST_ID))
            )
            received = list(stream)
        assert received == []
        assert stream.code() is OK
        status, message = core1.outcome(stream)
        assert status == "ERROR_RESOURCE_RETRIEVAL"
        assert "glance of project other is down" in message
        # PreAction expires across every project: the core 1.x aborts its run there.
        run = site.sync("v2")
        assert run.sequence() == [("PreAction", "")]
        assert run.statuses()[("PreAction", "")] == "ERROR_RESOURCE_RETRIEVAL"
        assert run.exit_code == 1
        assert site.records() == before

"""The recorded core session replayed through the wire against the real server and catalog.

Tests marked `both_sites` run over the in-memory catalog and over the devcloud's real Glance, whose
state they read through an admin glanceclient, independently of ckos.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from ckos.domain.errors import CatalogUnavailable
from ckos.domain.model import ProjectRef
from support import core
from support.independent_client import client
from support.site import (
    CENTOS,
    DEBIAN,
    GRACE,
    LIST_ID,
    LISTS,
    OVA,
    PROJECT,
    RECORDED,
    UBUNTU,
    VO,
    Site,
    both_sites,
    make_site,
)

STEPS = ["v1", "v2", "v3", "expired"]
LIVE_AFTER = {
    "v1": {UBUNTU, CENTOS, OVA},
    "v2": {UBUNTU, CENTOS, DEBIAN},
    "v3": {UBUNTU, DEBIAN},
    "expired": set(),
}
# How many retired images each appliance has after each step: none is collected within the grace.
RETIRED_AFTER = {
    "v1": {},
    "v2": {UBUNTU: 1, OVA: 1},
    "v3": {UBUNTU: 1, OVA: 1, CENTOS: 1},
    "expired": {UBUNTU: 2, OVA: 1, CENTOS: 1, DEBIAN: 1},
}
LISTING = ["PreAction", "RemoveExpiredAppliances", "ImageLists", "Appliances", "PostAction"]


def entry(name: str, identifier: str) -> Any:
    return core.ImageList.load(LISTS[name]).entry(identifier)


def synced_through(site: Site, last: str) -> dict[str, core.Run]:
    return {name: site.sync(name) for name in STEPS[: STEPS.index(last) + 1]}


def expected_appliance(name: str, identifier: str) -> Any:
    """What Appliances must return for a live appliance synced from this list: what was sent."""
    listed = core.ImageList.load(LISTS[name])
    item = listed.entry(identifier)
    fmt = core.offered_format(item, ("QCOW2",))
    return core.to_appliance(client().pb2, listed, item, location="", fmt=fmt)


def assert_holds(site: Site, record: Any, name: str, identifier: str) -> None:
    """The record is the live image of this list entry, with the digests the core sent."""
    item = entry(name, identifier)
    data = core.image_bytes(item)
    properties = record.properties
    assert record.name == item["dc:title"]
    assert properties["APPLIANCE_ID"] == identifier
    assert properties["APPLIANCE_IMAGE_LIST_ID"] == LIST_ID
    assert properties["APPLIANCE_DIGEST"] == core.digest(item)
    assert properties["APPLIANCE_IMAGE_DIGEST"] == core.image_digest(item)
    assert properties["APPLIANCE_IMAGE_CHECKSUM"] == hashlib.sha512(data).hexdigest()
    assert properties["APPLIANCE_IMAGE_SIZE"] == str(len(data))
    assert properties["APPLIANCE_STATUS"] == "ACTIVE"
    assert record.os_hidden is False
    assert record.status == "active"
    assert record.visibility == "private"
    assert record.owner == site.owner
    assert site.tag in record.tags
    assert (record.size, record.os_hash_algo) == (len(data), "sha512")
    assert record.os_hash_value == hashlib.sha512(data).hexdigest()
    assert site.data(record.id) == data
    assert not any(str(site.spool) in value for value in properties.values())


def assert_retired(record: Any) -> None:
    assert record.properties["APPLIANCE_STATUS"] == "EOL"
    assert record.os_hidden is True
    assert record.status == "active"  # still bootable for rebuilds


@both_sites
def test_the_recorded_session_step_by_step(site: Site) -> None:
    """After each run: the recorded calls, and the catalog holds exactly the list's images."""
    ever_live: set[str] = set()
    previous: dict[str, Any] = {}
    for name in STEPS:
        run = site.sync(name)
        assert run.sequence() == RECORDED[name], name
        assert {call.code for call in run.calls} == {grpc.StatusCode.OK}, name
        assert run.exit_code == 0
        assert list(site.spool.iterdir()) == []

        live, retired = site.live(), site.ours("EOL")
        assert set(live) == LIVE_AFTER[name], name
        holder = "v1" if name == "v1" else "v2"  # v3 and the expired list change no live image
        for identifier, record in live.items():
            assert_holds(site, record, holder, identifier)
        assert {identifier: len(images) for identifier, images in retired.items()} == RETIRED_AFTER[name]
        for images in retired.values():
            for record in images:
                assert_retired(record)
                assert site.data(record.id)  # the data stays with the retired image
        # Every image that was live and is no more is retired, not deleted; there is nothing else.
        live_ids = {record.id for record in live.values()}
        assert {record.id for images in retired.values() for record in images} == ever_live - live_ids
        assert {record.id for record in site.records()} == ever_live | live_ids
        if name == "v2":
            assert live[CENTOS].id == previous[CENTOS].id  # metadata only: updated in place
            assert live[UBUNTU].id != previous[UBUNTU].id  # new data: a new image
        ever_live |= live_ids
        previous = live

        expected = [expected_appliance(holder, identifier) for identifier in sorted(LIVE_AFTER[name])]
        assert sorted(site.appliances(), key=lambda a: a.identifier) == expected


@pytest.mark.parametrize("last", STEPS)
def test_each_run_makes_the_recorded_calls(site: Site, last: str) -> None:
    runs = synced_through(site, last)
    for name, run in runs.items():
        assert run.sequence() == RECORDED[name], name
        assert [call.code for call in run.calls] == [grpc.StatusCode.OK] * len(run.calls), name
        assert run.exit_code == 0
    assert list(site.spool.iterdir()) == []


@pytest.mark.parametrize("last", STEPS)
def test_the_live_appliances_follow_the_list(site: Site, last: str) -> None:
    synced_through(site, last)
    live = site.live()
    assert set(live) == LIVE_AFTER[last]
    for identifier, record in live.items():
        holder = "v1" if last == "v1" else "v2"  # v3 and the expired list change no live image
        assert_holds(site, record, holder, identifier)


@pytest.mark.parametrize("last", ["v1", "v2", "v3"])
def test_appliances_returns_every_field_as_sent(site: Site, last: str) -> None:
    synced_through(site, last)
    received = site.appliances()
    for appliance in received:
        assert core.missing_fields(appliance) == []
    holder = "v1" if last == "v1" else "v2"
    expected = [expected_appliance(holder, identifier) for identifier in sorted(LIVE_AFTER[last])]
    assert sorted(received, key=lambda a: a.identifier) == expected


@both_sites
@pytest.mark.parametrize("last", STEPS)
def test_a_second_run_on_an_unchanged_list_changes_nothing(site: Site, last: str) -> None:
    synced_through(site, last)
    before = site.snapshot()  # over Glance: every attribute of every image, updated_at too
    again = site.sync(last)
    # An expired list that is no longer in the backend is simply not registered again.
    expected = [rpc for rpc in LISTING if rpc != "Appliances"] if last == "expired" else LISTING
    assert [rpc for rpc, _ in again.sequence()] == expected
    assert again.exit_code == 0
    assert site.snapshot() == before


def test_v1_skips_the_expired_entry(site: Site) -> None:
    site.sync("v1")
    assert all(record.properties.get("APPLIANCE_ID") != DEBIAN for record in site.records())


def test_v2_replaces_updates_and_removes(site: Site) -> None:
    site.sync("v1")
    first = site.live()
    site.sync("v2")
    live, retired = site.live(), site.ours("EOL")
    # Ubuntu: a new image, verified before the old one was retired.
    assert live[UBUNTU].id != first[UBUNTU].id
    assert [record.id for record in retired[UBUNTU]] == [first[UBUNTU].id]
    assert_retired(retired[UBUNTU][0])
    assert site.data(first[UBUNTU].id) == core.image_bytes(entry("v1", UBUNTU))
    # CentOS: metadata only, in place: same image, same data and image digest, new digest.
    centos = live[CENTOS]
    assert centos.id == first[CENTOS].id
    assert centos.properties["APPLIANCE_IMAGE_DIGEST"] == first[CENTOS].properties["APPLIANCE_IMAGE_DIGEST"]
    assert centos.properties["APPLIANCE_DIGEST"] == core.digest(entry("v2", CENTOS))
    assert centos.properties["APPLIANCE_DIGEST"] != first[CENTOS].properties["APPLIANCE_DIGEST"]
    assert centos.name == entry("v2", CENTOS)["dc:title"]
    assert centos.properties["APPLIANCE_EXPIRATION_DATE"] == str(core.unix_time("2099-12-31T00:00:00Z"))
    assert site.data(centos.id) == site.data(first[CENTOS].id)
    # The OVA appliance left the list: retired, not deleted.
    assert [record.id for record in retired[OVA]] == [first[OVA].id]
    assert_retired(retired[OVA][0])
    assert CENTOS not in retired


def test_v3_retires_the_entry_that_expired_while_listed(site: Site) -> None:
    synced_through(site, "v2")
    before = site.live()
    site.sync("v3")
    live, retired = site.live(), site.ours("EOL")
    assert live == {identifier: before[identifier] for identifier in (UBUNTU, DEBIAN)}
    assert [record.id for record in retired[CENTOS]] == [before[CENTOS].id]
    assert_retired(retired[CENTOS][0])


def test_an_expired_list_retires_all_its_appliances(site: Site) -> None:
    synced_through(site, "v3")
    before = site.live()
    site.sync("expired")
    assert site.live() == {}
    assert site.image_lists() == []
    retired = site.ours("EOL")
    for identifier, record in before.items():
        assert record.id in [image.id for image in retired[identifier]]


def test_a_snapshot_with_our_properties_is_never_listed_changed_or_deleted(site: Site) -> None:
    site.sync("v1")
    ubuntu = site.live()[UBUNTU]
    snapshot = site.catalog.add_snapshot(PROJECT, ubuntu.id)
    # A snapshot of an appliance the list does not know, already expired: bait for every RPC.
    stray = {**ubuntu.properties, "APPLIANCE_ID": "5d4c3b2a-0000-5000-8000-000000000000"}
    stray.update({"APPLIANCE_EXPIRATION_DATE": "1", "image_type": "snapshot", "instance_uuid": "i-1"})
    foreign = site.catalog.add_foreign_image(PROJECT, stray, data=b"snapshot data")
    kept = {image_id: site.catalog.record(image_id) for image_id in (snapshot, foreign)}

    assert [rpc for rpc, _ in site.sync("v1").sequence()] == LISTING
    assert {appliance.identifier for appliance in site.appliances()} == LIVE_AFTER["v1"]
    for name in ("v2", "v3", "expired"):
        assert site.sync(name).sequence() == RECORDED[name]
    assert site.image_lists() == []
    site.clock.value += GRACE + 1
    assert site.call("RemoveExpiredAppliances", client().empty())[0] is grpc.StatusCode.OK
    assert site.call("PostAction", client().empty())[0] is grpc.StatusCode.OK
    assert {image_id: site.catalog.record(image_id) for image_id in kept} == kept
    assert {record.id for record in site.records()} == set(kept)


@pytest.mark.parametrize("rpc", ["RemoveExpiredAppliances", "PostAction"])
def test_retired_images_are_collected_after_the_grace(site: Site, rpc: str) -> None:
    synced_through(site, "v2")
    retired = {record.id for images in site.ours("EOL").values() for record in images}
    assert len(retired) == 2
    assert site.call(rpc, client().empty())[0] is grpc.StatusCode.OK
    assert retired <= {record.id for record in site.records()}  # still within the grace
    site.clock.value += GRACE + 1
    assert site.call(rpc, client().empty())[0] is grpc.StatusCode.OK
    assert not retired & {record.id for record in site.records()}
    assert set(site.live()) == LIVE_AFTER["v2"]


def test_an_image_in_use_is_kept_until_released(site: Site) -> None:
    site.sync("v1")
    old_ubuntu = site.live()[UBUNTU].id
    site.sync("v2")
    site.catalog.mark_in_use(old_ubuntu)
    site.clock.value += GRACE + 1
    run = site.sync("v2")
    assert [rpc for rpc, _ in run.sequence()] == LISTING
    assert run.exit_code == 0
    assert {record.id for images in site.ours("EOL").values() for record in images} == {old_ubuntu}
    assert_retired(site.catalog.record(old_ubuntu))
    site.catalog.mark_in_use(old_ubuntu, False)
    site.sync("v2")
    assert site.ours("EOL") == {}
    assert set(site.live()) == LIVE_AFTER["v2"]


def _malformed() -> dict[str, tuple[str, Callable[[Any], None]]]:
    def clear(name: str) -> Callable[[Any], None]:
        return lambda appliance: appliance.ClearField(name)

    def clear_image(name: str) -> Callable[[Any], None]:
        return lambda appliance: appliance.image.ClearField(name)

    def put(name: str, value: object) -> Callable[[Any], None]:
        return lambda appliance: setattr(appliance, name, value)

    def put_image(name: str, value: object) -> Callable[[Any], None]:
        return lambda appliance: setattr(appliance.image, name, value)

    return {
        "add without image": ("AddAppliance", clear("image")),
        "add without identifier": ("AddAppliance", clear("identifier")),
        "add without list id": ("AddAppliance", clear("image_list_identifier")),
        "add without vo": ("AddAppliance", clear("vo")),
        "add without mpuri": ("AddAppliance", clear("mpuri")),
        "add with a non-hex checksum": ("AddAppliance", put_image("checksum", "z" * 128)),
        "add without image uri": ("AddAppliance", clear_image("uri")),
        "add without location": ("AddAppliance", clear_image("location")),
        "add with negative ram": ("AddAppliance", put("ram", -1)),
        "add with negative size": ("AddAppliance", put_image("size", -5)),
        "add with NUL in title": ("AddAppliance", put("title", "bad\x00title")),
        "add with an unknown format": ("AddAppliance", put_image("format", 99)),
        "add with an unknown mode": ("AddAppliance", put_image("mode", 7)),
        "update without image": ("UpdateAppliance", clear("image")),
        "metadata without identifier": ("UpdateApplianceMetadata", clear("identifier")),
        "metadata with negative expiry": ("UpdateApplianceMetadata", put("expiration_date", -3)),
        "remove without identifier": ("RemoveAppliance", clear("identifier")),
        "remove without vo": ("RemoveAppliance", clear("vo")),
    }


MALFORMED = _malformed()


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_request_is_refused_and_changes_nothing(site: Site, case: str) -> None:
    site.sync("v1")
    rpc, spoil = MALFORMED[case]
    item = entry("v2", UBUNTU)
    offered = site.spool / "offered.qcow2"
    offered.write_bytes(core.image_bytes(item))
    listed = core.ImageList.load(LISTS["v2"])
    request = core.to_appliance(client().pb2, listed, item, location=str(offered), fmt="QCOW2")
    spoil(request)
    before = copy.deepcopy(site.records())
    code, _ = site.call(rpc, request)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert site.records() == before


@pytest.mark.parametrize("rpc", ["Appliances", "RemoveImageList"])
def test_an_empty_list_identifier_is_refused(site: Site, rpc: str) -> None:
    site.sync("v1")
    before = copy.deepcopy(site.records())
    code, received = site.call(rpc, client().pb2.ImageListIdentifier())
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert received == []
    assert site.records() == before


def test_an_unmapped_vo_is_refused_and_changes_nothing(site: Site, tmp_path: Path) -> None:
    text = LISTS["v1"].read_text().replace('"ad:vo": "vo.example.eu"', '"ad:vo": "unmapped.example.org"')
    unmapped = tmp_path / "unmapped.json"
    unmapped.write_text(text)
    run = core.run(site.target, unmapped, site.spool, now=site.clock.value)
    adds = [call for call in run.calls if call.rpc == "AddAppliance"]
    assert [call.subject for call in adds] == [UBUNTU, CENTOS, OVA]
    assert {call.code for call in adds} == {grpc.StatusCode.FAILED_PRECONDITION}
    assert all("unmapped.example.org" in call.details for call in adds)
    assert run.exit_code == 12
    assert site.records() == []
    assert list(site.spool.iterdir()) == []
    site.sync("v1")
    before = copy.deepcopy(site.records())
    listed = core.ImageList.load(unmapped)
    for rpc in ("UpdateApplianceMetadata", "RemoveAppliance"):
        request = core.to_appliance(client().pb2, listed, listed.entry(UBUNTU))
        assert site.call(rpc, request)[0] is grpc.StatusCode.FAILED_PRECONDITION
    assert site.records() == before


def corruptions() -> list[Any]:
    """(site, how) pairs: every corruption over the fake; over Glance one that ckos finds while
    uploading (longer: the upload is cut short) and one it finds after (altered; shorter is alike)."""
    memory = [pytest.param("memory", how) for how in ("longer", "shorter", "altered")]
    glance = [pytest.param("glance", how, marks=pytest.mark.openstack) for how in ("longer", "altered")]
    return memory + glance


def corrupt(how: str, target: str) -> core.Tamper:
    def tamper(identifier: str, path: Path) -> None:
        if identifier != target:
            return
        data = path.read_bytes()
        changed = {
            "longer": data + b"\0",
            "shorter": data[:-1],
            "altered": bytes([data[0] ^ 0xFF]) + data[1:],
        }
        path.write_bytes(changed[how])

    return tamper


@pytest.mark.parametrize(("site", "how"), corruptions(), indirect=["site"])
def test_a_corrupted_update_keeps_the_old_image_live_and_the_next_run_converges(site: Site, how: str) -> None:
    site.sync("v1")
    first = site.live()
    run = site.sync("v2", tamper=corrupt(how, UBUNTU))
    assert run.sequence() == RECORDED["v2"]
    assert run.codes()[("UpdateAppliance", UBUNTU)] is grpc.StatusCode.FAILED_PRECONDITION
    assert [call.code for call in run.calls].count(grpc.StatusCode.OK) == len(run.calls) - 1
    assert run.exit_code == 12
    ubuntu = [r for r in site.records() if r.properties.get("APPLIANCE_ID") == UBUNTU]
    assert ubuntu == [first[UBUNTU]]  # no orphan, old image live, digests unchanged
    assert {r.properties.get("APPLIANCE_ID") for r in site.records()} == LIVE_AFTER["v2"] | {OVA}
    assert_holds(site, first[UBUNTU], "v1", UBUNTU)
    assert list(site.spool.iterdir()) == []

    again = site.sync("v2")
    assert again.sequence() == [*RECORDED["v2"][:4], ("UpdateAppliance", UBUNTU), RECORDED["v2"][-1]]
    assert again.exit_code == 0
    assert_holds(site, site.live()[UBUNTU], "v2", UBUNTU)
    assert [rpc for rpc, _ in site.sync("v2").sequence()] == LISTING


@pytest.mark.parametrize(("site", "how"), corruptions(), indirect=["site"])
def test_a_corrupted_add_leaves_nothing_and_the_next_run_adds(site: Site, how: str) -> None:
    run = site.sync("v1", tamper=corrupt(how, CENTOS))
    assert run.sequence() == RECORDED["v1"]
    assert run.codes()[("AddAppliance", CENTOS)] is grpc.StatusCode.FAILED_PRECONDITION
    assert all(record.properties.get("APPLIANCE_ID") != CENTOS for record in site.records())
    assert set(site.live()) == {UBUNTU, OVA}

    again = site.sync("v1")
    assert again.sequence() == [*RECORDED["v2"][:4], ("AddAppliance", CENTOS), RECORDED["v1"][-1]]
    assert set(site.live()) == LIVE_AFTER["v1"]
    assert_holds(site, site.live()[CENTOS], "v1", CENTOS)


OTHER = ProjectRef(name="other", domain="default")


@pytest.fixture
def two_projects(tmp_path: Path) -> Iterator[Site]:
    """A site whose second mapped project fails every call: listing it fails after the first."""
    for site in make_site(tmp_path, {VO: PROJECT, "other.example.org": OTHER}):
        site.sync("v1")
        site.catalog.faults.fail_project(OTHER, CatalogUnavailable("glance of project other is down"))
        yield site


@pytest.mark.parametrize("rpc", ["ImageLists", "Appliances"])
def test_an_unavailable_catalog_fails_a_listing_with_no_partial_stream(two_projects: Site, rpc: str) -> None:
    site = two_projects
    before = copy.deepcopy(site.records())
    request = (
        client().empty()
        if rpc == "ImageLists"
        else client().pb2.ImageListIdentifier(image_list_identifier=LIST_ID)
    )
    code, received = site.call(rpc, request)
    assert code is grpc.StatusCode.UNAVAILABLE
    assert received == []
    assert site.records() == before


def test_an_unavailable_catalog_crashes_the_core_before_it_changes_anything(two_projects: Site) -> None:
    site = two_projects
    before = copy.deepcopy(site.records())
    run = site.sync("v2")
    assert run.sequence() == RECORDED["v2"][:3]
    assert [call.code for call in run.calls] == [
        grpc.StatusCode.OK,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNAVAILABLE,
    ]
    assert run.calls[-1].returned == ()
    assert run.exit_code == 1
    assert site.records() == before
    site.catalog.faults.fail_project(OTHER, None)
    assert site.sync("v2").sequence() == RECORDED["v2"]
    assert set(site.live()) == LIVE_AFTER["v2"]


OTHER_VO = "other.example.org"
OTHER_LIST = "0b9e6f3a-2c1d-5e7f-8a9b-1c2d3e4f5a6b"


def other_vo_list(name: str, folder: Path) -> Path:
    """The fixture list as another VO publishes it: its own list id and appliance ids."""
    text = LISTS[name].read_text().replace(LIST_ID, OTHER_LIST)
    text = text.replace(f'"ad:vo": "{VO}"', f'"ad:vo": "{OTHER_VO}"')
    for identifier in (UBUNTU, CENTOS, OVA, DEBIAN):
        text = text.replace(identifier, renamed(identifier))
    path = folder / f"other_{name}.json"
    path.write_text(text)
    return path


def renamed(subject: str) -> str:
    if subject == LIST_ID:
        return OTHER_LIST
    return subject[:-4] + "beef" if subject else ""


def sync_all(site: Site, paths: list[Path], spool: Path) -> list[core.Run]:
    return [core.run(site.target, path, spool, now=site.clock.value) for path in paths]


def test_two_vos_sharing_one_backend_concurrently_stay_apart(tmp_path: Path) -> None:
    for site in make_site(tmp_path, {VO: PROJECT, OTHER_VO: OTHER}):
        other = [other_vo_list(name, tmp_path) for name in STEPS]
        other_spool = site.spool / "other"  # each core has its own image directory
        other_spool.mkdir()
        site.sync("v1")
        core.run(site.target, other[0], other_spool, now=site.clock.value)
        assert sorted(site.image_lists()) == sorted([LIST_ID, OTHER_LIST])
        with ThreadPoolExecutor(max_workers=2) as pool:
            mine = pool.submit(sync_all, site, [LISTS[name] for name in STEPS[1:]], site.spool)
            theirs = pool.submit(sync_all, site, other[1:3], other_spool)
            runs, other_runs = mine.result(), theirs.result()
        assert [run.sequence() for run in runs] == [RECORDED[name] for name in STEPS[1:]]
        assert [run.sequence() for run in other_runs] == [
            [(rpc, renamed(subject)) for rpc, subject in RECORDED[name]] for name in STEPS[1:3]
        ]
        assert site.image_lists() == [OTHER_LIST]
        live = site.live()
        assert set(live) == {renamed(UBUNTU), renamed(DEBIAN)}
        assert {record.owner for record in live.values()} == {str(OTHER)}

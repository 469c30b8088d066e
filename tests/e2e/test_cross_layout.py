"""A site that changes its core's layout keeps its images: what one layout wrote, the others read.

Each test serves the same backend and catalog under several layouts at once and syncs through
independent clients of each, over the in-memory catalog and over the devcloud's real Glance.
"""

from __future__ import annotations

from typing import Any

import grpc

from support import core, core1
from support.site import CENTOS, LIST_ID, LISTS, OVA, UBUNTU, Site, both_sites

LIVE = {UBUNTU, CENTOS, OVA}  # after v1
CORE20_LISTING = [
    ("PreAction", ""),
    ("RemoveExpiredAppliances", ""),
    ("ImageLists", ""),
    ("Appliances", LIST_ID),
    ("PostAction", ""),
]
CORE1_LISTING = [("PreAction", ""), ("ImageLists", ""), ("Appliances", LIST_ID), ("PostAction", "")]
# Every field the layouts share, the image's included.
FIELDS = list(core.appliance_fields(core.ImageList.load(LISTS["v1"]), {}))
IMAGE_FIELDS = ["uri", "checksum", "size", "format"]


def listing(site: Site) -> dict[str, Any]:
    """What Appliances returns under the site's layout (all required fields present), by identifier."""
    assert LIST_ID in site.image_lists()
    received = site.appliances()
    for appliance in received:
        assert core.missing_fields(appliance) == [], appliance.identifier
    return {appliance.identifier: appliance for appliance in received}


def shared(appliance: Any) -> dict[str, Any]:
    values = {name: getattr(appliance, name) for name in FIELDS}
    values.update({f"image.{name}": getattr(appliance.image, name) for name in IMAGE_FIELDS})
    return values


def image_ids(site: Site) -> dict[str, str]:
    return {identifier: record.id for identifier, record in site.live().items()}


def assert_succeeded(run: core.Run) -> None:
    assert {call.code for call in run.calls} == {grpc.StatusCode.OK}
    assert set(run.statuses().values()) <= {"", "SUCCESS"}
    assert run.exit_code == 0


@both_sites
def test_images_written_under_core20_are_read_under_core1_and_proto2019(site: Site) -> None:
    assert_succeeded(site.sync("v1"))
    written = listing(site)
    assert set(written) == LIVE
    ids = image_ids(site)

    with site.serving("proto-2019") as newer:
        read = listing(newer)
        assert {i: shared(a) for i, a in read.items()} == {i: shared(a) for i, a in written.items()}
        assert {i: (a.digest, a.image.digest) for i, a in read.items()} == {
            i: (a.digest, a.image.digest) for i, a in written.items()
        }
        # The same digests: a core of the 2019 file finds nothing to do.
        again = newer.sync("v1")
        assert again.sequence() == CORE20_LISTING
        assert_succeeded(again)

    with site.serving("core-1") as older:
        read = listing(older)
        assert {i: shared(a) for i, a in read.items()} == {i: shared(a) for i, a in written.items()}
        assert all(dict(a.attributes) == {} for a in read.values())  # core 2.0 stored digests, not maps
        # No attributes to compare: the core 1.x sends each appliance again, and no data moves.
        converge = older.sync("v1")
        assert_succeeded(converge)
        assert sorted(converge.sequence()[3:-1]) == sorted(("UpdateAppliance", i) for i in LIVE)
        assert image_ids(site) == ids
        assert older.sync("v1").sequence() == CORE1_LISTING

    # Back under core 2.0: the core 1.x left no image digests, so one more update each, still no upload.
    back = site.sync("v1")
    assert_succeeded(back)
    assert sorted(back.sequence()[4:-1]) == sorted(("UpdateAppliance", i) for i in LIVE)
    assert image_ids(site) == ids
    assert site.sync("v1").sequence() == CORE20_LISTING


@both_sites
def test_images_written_under_core1_converge_under_core20_without_upload(site: Site) -> None:
    with site.serving("core-1") as older:
        assert_succeeded(older.sync("v1"))
        written = listing(older)
    ids = image_ids(site)
    assert set(ids) == LIVE
    records = {record.id for record in site.records()}

    for protocol in ("core-2.0", "proto-2019"):
        with site.serving(protocol) as newer:
            read = listing(newer)
            assert {i: shared(a) for i, a in read.items()} == {i: shared(a) for i, a in written.items()}
            for identifier, appliance in read.items():
                attributes = core1.attributes(core.ImageList.load(LISTS["v1"]).entry(identifier))
                assert appliance.appid == attributes.get("ad:appid", "")
                assert appliance.base_mpuri == attributes.get("ad:base_mpuri", "")
                assert appliance.image.digest == ""  # the core 1.x sends none

    converge = site.sync("v1")
    assert_succeeded(converge)
    assert sorted(converge.sequence()[4:-1]) == sorted(("UpdateAppliance", i) for i in LIVE)
    assert image_ids(site) == ids  # the same images: nothing uploaded again
    assert {record.id for record in site.records()} == records
    for identifier, record in site.live().items():
        assert site.data(record.id) == core.image_bytes(core.ImageList.load(LISTS["v1"]).entry(identifier))
    assert site.sync("v1").sequence() == CORE20_LISTING
    with site.serving("core-1") as older:
        assert older.appliances()  # still readable by the core 1.x, with no attributes now
        assert all(dict(a.attributes) == {} for a in older.appliances())

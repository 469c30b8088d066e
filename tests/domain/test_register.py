"""AddAppliance / UpdateAppliance: upsert, create-then-retire, and every failure path."""

from __future__ import annotations

import threading

import pytest
from attrs import evolve

from ckos.domain.errors import (
    CatalogUnavailable,
    InvalidRequest,
    SourceForbidden,
    SourceUnavailable,
    TransferMismatch,
    UnmappedVO,
    UnsupportedFormat,
)
from ckos.domain.model import ApplianceStatus, ImageFormat
from support.world import LIST, PROJECT, World, make_world

UBUNTU = "1f6d8c2a-0b7e-5f3c-8a9d-4e2b1c7f6a05"


def test_add_creates_one_live_image_holding_the_offered_bytes(world: World) -> None:
    appliance, source = world.offer(UBUNTU, b"ubuntu bytes" * 1000)

    image_id = world.backend.add_appliance(appliance, source).image_id

    assert world.live(UBUNTU) == [image_id]
    assert world.catalog.data(image_id) == b"ubuntu bytes" * 1000
    stored = world.catalog.get_image(PROJECT, image_id)
    assert stored.status is ApplianceStatus.ACTIVE
    assert stored.appliance == appliance
    assert world.files.open_streams == 0


def test_add_of_the_same_bytes_only_rewrites_metadata(world: World) -> None:
    appliance, source = world.offer(UBUNTU, b"same")
    first = world.backend.add_appliance(appliance, source).image_id
    renamed = evolve(appliance, title="New title", digest="d2")

    second = world.backend.add_appliance(renamed, source).image_id

    assert second == first
    assert len(world.catalog.records()) == 1
    assert world.catalog.get_image(PROJECT, first).appliance.title == "New title"
    assert world.files.opened.count(source.location) == 1  # the file was not read again


def test_update_with_new_bytes_creates_then_retires_the_old_image(world: World) -> None:
    old_appliance, old_source = world.offer(UBUNTU, b"v1")
    old = world.backend.add_appliance(old_appliance, old_source).image_id
    new_appliance, new_source = world.offer(UBUNTU, b"v2", digest="d2", image_digest="i2")

    new = world.backend.update_appliance(new_appliance, new_source).image_id

    assert new != old
    assert world.live(UBUNTU) == [new]
    retired = world.catalog.record(old)
    assert retired.properties["APPLIANCE_STATUS"] == "EOL"
    assert retired.os_hidden is True
    assert world.catalog.data(old) == b"v1"  # retired, not deleted: running VMs keep it


def test_the_outcome_names_the_project_and_the_images(world: World) -> None:
    appliance, source = world.offer(UBUNTU, b"v1")
    first = world.backend.add_appliance(appliance, source)
    again = world.backend.add_appliance(appliance, source)
    new_appliance, new_source = world.offer(UBUNTU, b"v2", digest="d2", image_digest="i2")
    second = world.backend.update_appliance(new_appliance, new_source)

    assert (first.project, first.uploaded, first.retired) == (PROJECT, True, ())
    assert (again.image_id, again.uploaded) == (first.image_id, False)
    assert second.uploaded
    assert second.retired == (first.image_id,)
    assert second.images() == (second.image_id, first.image_id)


@pytest.mark.parametrize(
    ("content", "announced_size", "message"),
    [
        (b"v3", None, "checksum mismatch"),
        (b"v2", 5, "size mismatch"),
        (b"far too long", 3, "larger than the announced"),
    ],
)
def test_mismatching_bytes_leave_the_old_image_live_and_no_orphan(
    world: World, content: bytes, announced_size: int | None, message: str
) -> None:
    old_appliance, old_source = world.offer(UBUNTU, b"v1")
    old = world.backend.add_appliance(old_appliance, old_source).image_id
    appliance, source = world.offer(UBUNTU, b"v2", digest="d2", image_digest="i2")
    world.files.files[source.location] = content
    assert appliance.image is not None
    if announced_size is not None:
        appliance = evolve(appliance, image=evolve(appliance.image, size=announced_size))

    with pytest.raises(TransferMismatch, match=message):
        world.backend.update_appliance(appliance, source)

    assert [record.id for record in world.catalog.records()] == [old]
    assert world.catalog.get_image(PROJECT, old).appliance == old_appliance  # digests unchanged
    assert world.files.open_streams == 0


def test_source_dying_mid_stream_leaves_no_orphan(world: World) -> None:
    appliance, source = world.offer(UBUNTU, b"x" * 300_000)
    world.files.break_after[source.location] = 100_000

    with pytest.raises(SourceUnavailable):
        world.backend.add_appliance(appliance, source)

    assert world.catalog.records() == []
    assert world.files.open_streams == 0


@pytest.mark.parametrize("operation", ["upload", "get_image", "mark_active"])
def test_catalog_failure_after_create_deletes_the_new_image(world: World, operation: str) -> None:
    appliance, source = world.offer(UBUNTU, b"bytes")
    world.catalog.faults.fail_next(operation, CatalogUnavailable("glance is down"))  # type: ignore[arg-type]

    with pytest.raises(CatalogUnavailable):
        world.backend.add_appliance(appliance, source)

    assert world.catalog.records() == []


def test_failed_cleanup_leaves_an_unmarked_image_for_collection(world: World) -> None:
    appliance, source = world.offer(UBUNTU, b"bytes")
    world.catalog.faults.fail_next("upload", CatalogUnavailable("glance is down"))
    world.catalog.faults.fail_next("delete_image", CatalogUnavailable("still down"))

    with pytest.raises(CatalogUnavailable, match="glance is down"):
        world.backend.add_appliance(appliance, source)

    [leftover] = world.catalog.records()
    assert "APPLIANCE_STATUS" not in leftover.properties
    assert world.backend.image_lists() == []


def test_refused_source_creates_nothing(world: World) -> None:
    appliance, source = world.offer(UBUNTU, b"bytes")
    world.files.refuse[source.location] = SourceForbidden("outside the allowed directories")

    with pytest.raises(SourceForbidden):
        world.backend.add_appliance(appliance, source)

    assert world.catalog.records() == []
    # Refused before the catalog is touched: nothing was created, not even for a moment.
    assert "create_image" not in [call.operation for call in world.catalog.faults.calls()]


def test_unmapped_vo_is_refused_before_anything_happens(world: World) -> None:
    appliance, source = world.offer(UBUNTU, b"bytes", vo="unknown.vo")

    with pytest.raises(UnmappedVO, match=r"unknown\.vo"):
        world.backend.add_appliance(appliance, source)

    assert world.catalog.faults.calls() == []
    assert world.files.opened == []


def test_unsupported_format_creates_nothing() -> None:
    world = make_world(disk_formats={"raw"})  # a Glance that offers only raw
    appliance, source = world.offer(UBUNTU, b"bytes")
    assert appliance.image is not None

    with pytest.raises(UnsupportedFormat):
        world.backend.add_appliance(appliance, source)
    assert world.catalog.records() == []

    raw = evolve(appliance, image=evolve(appliance.image, format=ImageFormat.RAW))
    assert world.backend.add_appliance(raw, source).image_id


@pytest.mark.parametrize(
    "change",
    [
        {"identifier": ""},
        {"vo": ""},
        {"image_list_identifier": ""},
        {"mpuri": ""},
        {"ram": -1},
        {"core": -2},
        {"title": "nul\x00byte"},
        {"image": None},
    ],
)
def test_invalid_requests_change_nothing(world: World, change: dict[str, object]) -> None:
    appliance, source = world.offer(UBUNTU, b"bytes")

    with pytest.raises(InvalidRequest):
        world.backend.add_appliance(evolve(appliance, **change), source)  # type: ignore[arg-type]

    assert world.catalog.faults.calls() == []
    assert world.files.opened == []


@pytest.mark.parametrize(
    "checksum",
    ["", "abc", "Z" * 128, "a" * 127, "sha256:" + "a" * 63, "sha1:" + "a" * 40, "SHA256:" + "a" * 64],
)
def test_a_checksum_that_is_no_sha512_is_invalid(world: World, checksum: str) -> None:
    appliance, source = world.offer(UBUNTU, b"bytes")
    assert appliance.image is not None
    broken = evolve(appliance, image=evolve(appliance.image, checksum=checksum))

    with pytest.raises(InvalidRequest, match="checksum"):
        world.backend.add_appliance(broken, source)


def test_missing_source_is_invalid(world: World) -> None:
    appliance, _ = world.offer(UBUNTU, b"bytes")

    with pytest.raises(InvalidRequest, match="no image"):
        world.backend.add_appliance(appliance, None)


def test_concurrent_adds_of_one_appliance_leave_exactly_one_live_image(world: World) -> None:
    offers = [world.offer(UBUNTU, f"version {n}".encode(), digest=f"d{n}") for n in range(6)]
    errors: list[BaseException] = []

    def add(n: int) -> None:
        try:
            world.backend.add_appliance(*offers[n])
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(world.live(UBUNTU)) == 1
    assert [appliance.identifier for appliance in world.backend.appliances(LIST)] == [UBUNTU]

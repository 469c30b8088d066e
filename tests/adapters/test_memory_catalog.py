"""What only the in-memory catalog offers: planned failures, in-use marks, raw records, threads."""

from __future__ import annotations

import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from attrs import evolve

from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.adapters.memory_faults import CatalogCall
from ckos.domain.errors import (
    CatalogNotFound,
    CatalogRejected,
    CatalogUnavailable,
    ImageInUse,
    UnsupportedFormat,
)
from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageState, ProjectRef

DATA = b"appliance bytes " * 10000
PROJECT = ProjectRef(name="fedcloud", domain="default")
OTHER = ProjectRef(id="0f3a9c5e2b7d4e1fa6c8d0b2e4f6a8c1")
IMAGE = ImageFacts(
    uri="http://127.0.0.1/u.img",
    checksum=hashlib.sha512(DATA).hexdigest(),
    size=len(DATA),
    format=ImageFormat.QCOW2,
    digest="d" * 128,
)
APPLIANCE = Appliance(
    identifier="app-1",
    image_list_identifier="list-1",
    vo="vo.example.eu",
    mpuri="https://appdb.egi.eu/store/vo/image/app-1:1/",
    title="Image for EGI Ubuntu 22.04 [Ubuntu/22.04/KVM]",
    image=IMAGE,
)


class Clock:
    def __init__(self) -> None:
        self.time = 1700000000

    def now(self) -> int:
        return self.time


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def catalog(clock: Clock) -> MemoryCatalog:
    return MemoryCatalog(clock=clock.now)


def live(catalog: MemoryCatalog, project: ProjectRef = PROJECT, appliance: Appliance = APPLIANCE) -> str:
    image_id = catalog.create_image(project, appliance)
    catalog.upload(project, image_id, io.BytesIO(DATA))
    catalog.mark_active(project, image_id)
    return image_id


def test_a_planned_failure_hits_the_next_call_only(catalog: MemoryCatalog) -> None:
    image_id = live(catalog)
    catalog.faults.fail_next("list_images", CatalogUnavailable("glance is down"))
    with pytest.raises(CatalogUnavailable, match="glance is down"):
        catalog.list_images(PROJECT)
    assert [image.image_id for image in catalog.list_images(PROJECT)] == [image_id]


def test_planned_failures_queue_up_and_change_nothing(catalog: MemoryCatalog) -> None:
    catalog.faults.fail_next("create_image", CatalogUnavailable("one"))
    catalog.faults.fail_next("create_image", CatalogRejected("two"))
    with pytest.raises(CatalogUnavailable):
        catalog.create_image(PROJECT, APPLIANCE)
    with pytest.raises(CatalogRejected):
        catalog.create_image(PROJECT, APPLIANCE)
    assert catalog.records() == []


def test_a_failing_upload_reads_nothing_and_leaves_the_image_queued(catalog: MemoryCatalog) -> None:
    image_id = catalog.create_image(PROJECT, APPLIANCE)
    stream = io.BytesIO(DATA)
    catalog.faults.fail_next("upload", CatalogUnavailable("glance is down"))
    with pytest.raises(CatalogUnavailable):
        catalog.upload(PROJECT, image_id, stream)
    assert stream.tell() == 0
    assert (catalog.record(image_id).status, catalog.data(image_id)) == ("queued", b"")


def test_a_failing_project_fails_every_call_until_healed(catalog: MemoryCatalog) -> None:
    ours, theirs = live(catalog), live(catalog, OTHER)
    catalog.faults.fail_project(OTHER, CatalogUnavailable("keystone refuses the project"))
    with pytest.raises(CatalogUnavailable):
        catalog.list_images(OTHER)
    with pytest.raises(CatalogUnavailable):
        catalog.retire(OTHER, theirs, 1)
    assert [image.image_id for image in catalog.list_images(PROJECT)] == [ours]
    catalog.faults.fail_project(OTHER, None)
    assert catalog.get_image(OTHER, theirs).live


def test_calls_are_logged_in_order_failed_ones_included(catalog: MemoryCatalog) -> None:
    image_id = live(catalog)
    catalog.faults.fail_next("retire", CatalogUnavailable("down"))
    with pytest.raises(CatalogUnavailable):
        catalog.retire(PROJECT, image_id, 1)
    assert catalog.faults.calls() == [
        CatalogCall("create_image", PROJECT, None),
        CatalogCall("upload", PROJECT, image_id),
        CatalogCall("mark_active", PROJECT, image_id),
        CatalogCall("retire", PROJECT, image_id),
    ]


def test_an_image_in_use_cannot_be_deleted_until_released(catalog: MemoryCatalog) -> None:
    image_id = live(catalog)
    catalog.retire(PROJECT, image_id, 1)
    catalog.mark_in_use(image_id)
    with pytest.raises(ImageInUse):
        catalog.delete_image(PROJECT, image_id)
    assert catalog.data(image_id) == DATA
    catalog.mark_in_use(image_id, False)
    catalog.delete_image(PROJECT, image_id)
    assert catalog.records() == []


def test_a_nova_snapshot_carries_the_properties_but_is_never_ours(catalog: MemoryCatalog) -> None:
    image_id = live(catalog)
    snapshot = catalog.add_snapshot(PROJECT, image_id)
    record = catalog.record(snapshot)
    assert record.tags == frozenset()
    assert record.properties["APPLIANCE_ID"] == APPLIANCE.identifier
    assert record.properties["APPLIANCE_STATUS"] == "ACTIVE"
    assert (record.properties["image_type"], record.properties["base_image_ref"]) == ("snapshot", image_id)
    assert [image.image_id for image in catalog.list_images(PROJECT)] == [image_id]
    with pytest.raises(CatalogNotFound):
        catalog.delete_image(PROJECT, snapshot)
    assert catalog.record(snapshot) == record


def test_a_tagged_image_without_appliance_properties_is_not_ours(catalog: MemoryCatalog) -> None:
    stray = catalog.add_foreign_image(PROJECT, {"APPLIANCE_ID": "x"}, tags=frozenset({catalog.tag}))
    assert catalog.list_images(PROJECT) == []
    with pytest.raises(CatalogNotFound):
        catalog.get_image(PROJECT, stray)


def test_records_are_glance_like_and_copies(catalog: MemoryCatalog, clock: Clock) -> None:
    image_id = live(catalog)
    record = catalog.record(image_id)
    assert (record.owner, record.created_at, record.status, record.size) == (
        "default/fedcloud",
        clock.time,
        "active",
        len(DATA),
    )
    assert (record.os_hash_algo, record.os_hash_value) == ("sha512", hashlib.sha512(DATA).hexdigest())
    assert record.checksum == hashlib.md5(DATA, usedforsecurity=False).hexdigest()
    assert catalog.data(image_id) == DATA
    record.properties["APPLIANCE_ID"] = "tampered"  # type: ignore[index]
    assert catalog.record(image_id).properties["APPLIANCE_ID"] == APPLIANCE.identifier
    assert catalog.records() == [catalog.record(image_id)]


def test_images_are_listed_newest_first(catalog: MemoryCatalog, clock: Clock) -> None:
    first = live(catalog)
    clock.time += 10
    second = live(catalog)
    assert [image.image_id for image in catalog.list_images(PROJECT)] == [second, first]
    assert catalog.get_image(PROJECT, second).created_at == clock.time


def test_set_state_forces_glance_state(catalog: MemoryCatalog) -> None:
    image_id = catalog.create_image(PROJECT, APPLIANCE)
    catalog.set_state(image_id, ImageState.KILLED)
    assert catalog.get_image(PROJECT, image_id).state is ImageState.KILLED


def test_visibility_and_formats_are_configurable() -> None:
    catalog = MemoryCatalog(visibility="community", disk_formats={"raw"}, container_formats={"bare"})
    with pytest.raises(UnsupportedFormat):
        catalog.create_image(PROJECT, APPLIANCE)
    raw = evolve(APPLIANCE, image=evolve(IMAGE, format=ImageFormat.RAW))
    assert catalog.record(catalog.create_image(PROJECT, raw)).visibility == "community"


@pytest.mark.parametrize(
    "appliance",
    [
        evolve(APPLIANCE, ram=2**31 * 1024 * 1024),  # min_ram beyond Glance's 32-bit column
        evolve(APPLIANCE, description="ü" * 40000),  # 80000 bytes: more than a MySQL TEXT value holds
        evolve(APPLIANCE, image=None),  # no format to create the image with
    ],
    ids=["min_ram", "long-value", "no-image"],
)
def test_what_glance_would_refuse_is_refused_before_creating(
    catalog: MemoryCatalog, appliance: Appliance
) -> None:
    with pytest.raises(CatalogRejected):
        catalog.create_image(PROJECT, appliance)
    assert catalog.records() == []


def test_a_refused_metadata_update_changes_nothing(catalog: MemoryCatalog) -> None:
    image_id = live(catalog)
    before = catalog.record(image_id)
    with pytest.raises(CatalogRejected):
        catalog.update_metadata(PROJECT, image_id, evolve(APPLIANCE, description="ü" * 40000))
    assert catalog.record(image_id) == before


def test_an_upload_does_not_block_other_calls(catalog: MemoryCatalog) -> None:
    image_id = catalog.create_image(PROJECT, APPLIANCE)
    reading, release = threading.Event(), threading.Event()

    class SlowStream:
        def __init__(self) -> None:
            self._stream = io.BytesIO(DATA)

        def read(self, size: int = -1, /) -> bytes:
            reading.set()
            assert release.wait(5)
            return self._stream.read(size)

    with ThreadPoolExecutor(1) as pool:
        upload = pool.submit(catalog.upload, PROJECT, image_id, SlowStream())
        assert reading.wait(5)
        assert catalog.get_image(PROJECT, image_id).state is ImageState.SAVING
        release.set()
        upload.result(5)
    assert catalog.get_image(PROJECT, image_id).state is ImageState.ACTIVE


def test_an_image_deleted_during_its_upload_is_not_found_at_the_end(catalog: MemoryCatalog) -> None:
    image_id = catalog.create_image(PROJECT, APPLIANCE)

    class DeletingStream:
        def read(self, size: int = -1, /) -> bytes:
            catalog.delete_image(PROJECT, image_id)  # e.g. collection racing a stale upload
            return b""

    with pytest.raises(CatalogNotFound):
        catalog.upload(PROJECT, image_id, DeletingStream())
    assert catalog.records() == []


def test_concurrent_calls_lose_nothing(catalog: MemoryCatalog) -> None:
    appliances = [evolve(APPLIANCE, identifier=f"app-{n}") for n in range(40)]
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda appliance: live(catalog, PROJECT, appliance), appliances))
    assert len(set(ids)) == 40
    assert {image.image_id for image in catalog.list_images(PROJECT) if image.live} == set(ids)


def test_a_stream_failing_midway_leaves_the_image_queued_without_data(catalog: MemoryCatalog) -> None:
    image_id = catalog.create_image(PROJECT, APPLIANCE)

    class BrokenStream:
        def __init__(self) -> None:
            self.reads = 0

        def read(self, size: int = -1, /) -> bytes:
            self.reads += 1
            if self.reads > 2:
                raise OSError("disk gone")
            return DATA[:size]

    with pytest.raises(OSError, match="disk gone"):
        catalog.upload(PROJECT, image_id, BrokenStream())
    assert (catalog.record(image_id).status, catalog.record(image_id).size, catalog.data(image_id)) == (
        "queued",
        None,
        b"",
    )
    catalog.upload(PROJECT, image_id, io.BytesIO(DATA))  # Glance accepts a new upload then
    assert catalog.data(image_id) == DATA

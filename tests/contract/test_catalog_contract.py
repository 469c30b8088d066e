"""What every ImageCatalog must do, written against the port only (fake and real Glance alike)."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Protocol

import pytest
from attrs import evolve

from ckos.adapters.glance.record import ImageRecord
from ckos.domain.errors import CatalogNotFound, CatalogRejected, TransferMismatch, UnsupportedFormat
from ckos.domain.model import (
    Appliance,
    ApplianceStatus,
    ImageFacts,
    ImageFormat,
    ImageState,
    ProjectRef,
)
from ckos.domain.ports import ImageCatalog
from support.appliances import CENTOS, DATA, IMAGE, SHA512, UBUNTU, live, uploaded

RawImage = Callable[[ProjectRef, str], ImageRecord]


class AddForeign(Protocol):
    def __call__(
        self, project: ProjectRef, properties: Mapping[str, str], *, tags: frozenset[str] = ...
    ) -> str: ...


class RecordingStream:
    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._stream = io.BytesIO(data)
        self._fail_after = fail_after
        self.sizes: list[int] = []

    def read(self, size: int = -1, /) -> bytes:
        self.sizes.append(size)
        if self._fail_after is not None and len(self.sizes) > self._fail_after:
            raise TransferMismatch("checksum mismatch")
        return self._stream.read(size)


def test_a_created_image_is_ours_unmarked_and_queued(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    image_id = catalog.create_image(project_a, UBUNTU)
    [image] = catalog.list_images(project_a)
    assert (image.image_id, image.project, image.appliance) == (image_id, project_a, UBUNTU)
    assert (image.status, image.state, image.live, image.retired_at) == (None, ImageState.QUEUED, False, None)
    assert catalog.get_image(project_a, image_id) == image


def test_create_writes_tag_formats_and_properties_at_once(
    catalog: ImageCatalog, project_a: ProjectRef, raw_image: RawImage, tag: str
) -> None:
    raw = raw_image(project_a, catalog.create_image(project_a, UBUNTU))
    assert tag in raw.tags
    assert (raw.name, raw.disk_format, raw.container_format, raw.min_ram) == (
        UBUNTU.title,
        "qcow2",
        "bare",
        1024,
    )
    assert (raw.visibility, raw.os_hidden, raw.status) == ("private", False, "queued")
    assert raw.properties["APPLIANCE_ID"] == UBUNTU.identifier
    assert raw.properties["APPLIANCE_IMAGE_CHECKSUM"] == SHA512
    assert raw.properties["os_distro"] == "ubuntu"
    assert "APPLIANCE_STATUS" not in raw.properties


def test_upload_stores_the_bytes_with_their_size_and_sha512(
    catalog: ImageCatalog, project_a: ProjectRef
) -> None:
    image = catalog.get_image(project_a, uploaded(catalog, project_a))
    assert (image.state, image.size, image.sha512) == (ImageState.ACTIVE, len(DATA), SHA512)
    assert image.holds(SHA512)
    assert image.status is None  # the data is there, but the image is not live before mark_active


def test_upload_reads_the_stream_in_bounded_chunks_to_its_end(
    catalog: ImageCatalog, project_a: ProjectRef
) -> None:
    image_id = catalog.create_image(project_a, UBUNTU)
    stream = RecordingStream(DATA)
    catalog.upload(project_a, image_id, stream)
    assert len(stream.sizes) > 1
    assert all(0 < size <= 1024 * 1024 for size in stream.sizes)
    assert catalog.get_image(project_a, image_id).size == len(DATA)


def test_an_error_of_the_stream_fails_the_upload_as_it_is(
    catalog: ImageCatalog, project_a: ProjectRef
) -> None:
    image_id = catalog.create_image(project_a, UBUNTU)
    with pytest.raises(TransferMismatch, match="checksum mismatch"):
        catalog.upload(project_a, image_id, RecordingStream(DATA, fail_after=1))
    assert catalog.get_image(project_a, image_id).state is not ImageState.ACTIVE


def test_data_cannot_be_uploaded_twice(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    image_id = uploaded(catalog, project_a)
    with pytest.raises(CatalogRejected):
        catalog.upload(project_a, image_id, io.BytesIO(b"other bytes"))
    assert catalog.get_image(project_a, image_id).sha512 == SHA512


def test_mark_active_makes_the_image_live(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    image = catalog.get_image(project_a, live(catalog, project_a))
    assert image.status is ApplianceStatus.ACTIVE
    assert image.live
    assert image.appliance == UBUNTU


def test_update_metadata_round_trips_every_field(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    image_id = live(catalog, project_a)
    changed = Appliance(
        identifier=UBUNTU.identifier,
        image_list_identifier="b4e2d0f3-6c8a-4f1b-9d5e-3a2c1b0f9e8d",
        vo="fedcloud.egi.eu",
        mpuri="https://appdb.egi.eu/store/vo/image/1f6d8c2a-0b7e-5f3c-8a9d-4e2b1c7f6a05:7400/",
        title="Image pour EGI Ubuntu 22.04 « Jammy » [Ubuntu/22.04/KVM]",
        description="Cloud image — Größe optimiert, 日本語の説明, emoji 🚀",
        group="Grupo general",
        ram=512,
        core=4,
        version="2022.10.01",
        architecture="amd64",
        operating_system="Linux Ubuntu 22.04",
        expiration_date=1893456000,
        base_mpuri="https://appdb.egi.eu/store/vm/image/1f6d8c2a-0b7e-5f3c-8a9d-4e2b1c7f6a05:7400/",
        appid="1018",
        digest="0123abcd" * 16,
        image=ImageFacts(
            uri="https://cloud-images.ubuntu.com/jammy/jammy-server-cloudimg-amd64.img",
            checksum="f" * 128,
            size=2361393152,
            format=ImageFormat.RAW,
            digest="4567ef01" * 16,
        ),
    )
    catalog.update_metadata(project_a, image_id, changed)
    image = catalog.get_image(project_a, image_id)
    assert image.appliance == changed
    assert (image.status, image.size, image.sha512) == (ApplianceStatus.ACTIVE, len(DATA), SHA512)


def test_update_metadata_removes_properties_no_longer_set(
    catalog: ImageCatalog, project_a: ProjectRef, raw_image: RawImage
) -> None:
    image_id = live(catalog, project_a)
    bare = Appliance(UBUNTU.identifier, UBUNTU.image_list_identifier, UBUNTU.vo, UBUNTU.mpuri, image=IMAGE)
    catalog.update_metadata(project_a, image_id, bare)
    assert catalog.get_image(project_a, image_id).appliance == bare
    raw = raw_image(project_a, image_id)
    gone = {
        "APPLIANCE_DESCRIPTION",
        "APPLIANCE_RAM",
        "APPLIANCE_APPID",
        "ad:appid",
        "os_distro",
        "architecture",
    }
    assert not gone & set(raw.properties)
    assert "vmcatcher_event_dc_description" not in raw.properties
    assert (raw.name, raw.min_ram, raw.properties["APPLIANCE_STATUS"]) == (UBUNTU.identifier, 0, "ACTIVE")


def test_update_metadata_leaves_a_retired_image_retired(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    image_id = live(catalog, project_a)
    catalog.retire(project_a, image_id, 1700000000)
    catalog.update_metadata(project_a, image_id, evolve(UBUNTU, title="renamed"))
    image = catalog.get_image(project_a, image_id)
    assert (image.status, image.retired_at, image.appliance.title) == (
        ApplianceStatus.EOL,
        1700000000,
        "renamed",
    )


def test_retire_marks_end_of_life_hides_and_keeps_the_image(
    catalog: ImageCatalog, project_a: ProjectRef, raw_image: RawImage
) -> None:
    image_id = live(catalog, project_a)
    catalog.retire(project_a, image_id, 1700000000)
    [image] = catalog.list_images(project_a)  # still listed, for collection to find it
    assert (image.image_id, image.status, image.retired_at, image.live) == (
        image_id,
        ApplianceStatus.EOL,
        1700000000,
        False,
    )
    assert (image.state, image.sha512, image.appliance) == (ImageState.ACTIVE, SHA512, UBUNTU)
    assert raw_image(project_a, image_id).os_hidden is True


def test_delete_removes_the_image(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    kept, deleted = live(catalog, project_a, CENTOS), live(catalog, project_a)
    catalog.delete_image(project_a, deleted)
    assert [image.image_id for image in catalog.list_images(project_a)] == [kept]
    with pytest.raises(CatalogNotFound):
        catalog.get_image(project_a, deleted)
    with pytest.raises(CatalogNotFound):
        catalog.delete_image(project_a, deleted)


@pytest.mark.parametrize(
    "call",
    [
        lambda catalog, project, image_id: catalog.get_image(project, image_id),
        lambda catalog, project, image_id: catalog.upload(project, image_id, io.BytesIO(DATA)),
        lambda catalog, project, image_id: catalog.mark_active(project, image_id),
        lambda catalog, project, image_id: catalog.update_metadata(project, image_id, UBUNTU),
        lambda catalog, project, image_id: catalog.retire(project, image_id, 1700000000),
        lambda catalog, project, image_id: catalog.delete_image(project, image_id),
    ],
    ids=["get_image", "upload", "mark_active", "update_metadata", "retire", "delete_image"],
)
def test_an_unknown_image_is_not_found(
    catalog: ImageCatalog, project_a: ProjectRef, call: Callable[[ImageCatalog, ProjectRef, str], object]
) -> None:
    live(catalog, project_a)
    with pytest.raises(CatalogNotFound):
        call(catalog, project_a, str(uuid.uuid4()))


def test_listing_can_be_narrowed_to_one_appliance(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    ubuntu_old, centos, ubuntu = (
        live(catalog, project_a),
        live(catalog, project_a, CENTOS),
        live(catalog, project_a),
    )
    assert {image.image_id for image in catalog.list_images(project_a)} == {ubuntu_old, centos, ubuntu}
    narrowed = catalog.list_images(project_a, appliance_id=UBUNTU.identifier)
    assert {image.image_id for image in narrowed} == {ubuntu_old, ubuntu}
    assert catalog.list_images(project_a, appliance_id="no-such-appliance") == []


@pytest.mark.parametrize("identifier", ["in:a,b", "a b&c=d%20", "ünï-🚀", "gt:1"])
def test_any_identifier_round_trips_and_narrows_the_listing_exactly(
    catalog: ImageCatalog, project_a: ProjectRef, identifier: str
) -> None:
    odd = evolve(UBUNTU, identifier=identifier)
    image_id = catalog.create_image(project_a, odd)
    live(catalog, project_a, evolve(UBUNTU, identifier="a"))  # what a careless filter would also match
    [image] = catalog.list_images(project_a, appliance_id=identifier)
    assert (image.image_id, image.appliance) == (image_id, odd)


def test_a_retired_image_is_found_by_its_appliance(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    retired, current = live(catalog, project_a), live(catalog, project_a)
    catalog.retire(project_a, retired, 1700000000)
    found = catalog.list_images(project_a, appliance_id=UBUNTU.identifier)
    assert {(image.image_id, image.live) for image in found} == {(retired, False), (current, True)}


def test_created_at_is_when_the_image_was_created(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    before = int(time.time())
    image = catalog.get_image(project_a, catalog.create_image(project_a, UBUNTU))
    assert before - 5 <= image.created_at <= int(time.time()) + 5


def test_projects_are_isolated(catalog: ImageCatalog, project_a: ProjectRef, project_b: ProjectRef) -> None:
    image_id = live(catalog, project_a)
    assert catalog.list_images(project_b) == []
    with pytest.raises(CatalogNotFound):
        catalog.get_image(project_b, image_id)
    with pytest.raises(CatalogNotFound):
        catalog.retire(project_b, image_id, 1700000000)
    with pytest.raises(CatalogNotFound):
        catalog.delete_image(project_b, image_id)
    assert catalog.get_image(project_a, image_id).live


def test_an_unsupported_format_creates_nothing(catalog: ImageCatalog, project_a: ProjectRef) -> None:
    vdi = evolve(UBUNTU, image=evolve(IMAGE, format=ImageFormat.VDI))
    with pytest.raises(UnsupportedFormat, match="vdi"):
        catalog.create_image(project_a, vdi)
    assert catalog.list_images(project_a) == []


def test_an_ova_is_an_ova_container_holding_a_vmdk_disk(
    catalog: ImageCatalog, project_a: ProjectRef, raw_image: RawImage
) -> None:
    ova = evolve(UBUNTU, image=evolve(IMAGE, format=ImageFormat.OVA))
    image_id = live(catalog, project_a, ova)
    raw = raw_image(project_a, image_id)
    assert (raw.disk_format, raw.container_format) == ("vmdk", "ova")
    assert catalog.get_image(project_a, image_id).appliance == ova


def test_long_unicode_text_and_empty_optional_fields_round_trip(
    catalog: ImageCatalog, project_a: ProjectRef, raw_image: RawImage
) -> None:
    text = "Ünïcödé “quotes” — 中文描述, русский текст, emoji 🐧🚀; line one\nline two\t" * 6
    appliance = evolve(
        UBUNTU, title="Ελληνικά ✓", description=text, group="", version="", appid="", ram=0, core=0
    )
    assert 300 < len(text) < 1000
    image_id = live(catalog, project_a, appliance)
    assert catalog.get_image(project_a, image_id).appliance == appliance
    raw = raw_image(project_a, image_id)
    # Glance refuses characters beyond U+FFFF (4 bytes in UTF-8): they are stored escaped.
    stored = text.replace("🐧", "\\U0001f427").replace("🚀", "\\U0001f680")
    assert raw.properties["APPLIANCE_DESCRIPTION"] == stored
    assert raw.name == "Ελληνικά ✓"
    assert not {"APPLIANCE_GROUP", "APPLIANCE_VERSION", "APPLIANCE_RAM", "APPLIANCE_CORE"} & set(
        raw.properties
    )


def test_images_without_our_tag_are_never_listed_nor_touched(
    catalog: ImageCatalog, project_a: ProjectRef, raw_image: RawImage, add_foreign_image: AddForeign
) -> None:
    ours = live(catalog, project_a)
    copied = dict(raw_image(project_a, ours).properties)  # what Nova copies into a user snapshot
    snapshot = add_foreign_image(
        project_a, {**copied, "image_type": "snapshot", "instance_uuid": str(uuid.uuid4())}
    )
    before = raw_image(project_a, snapshot)
    assert [image.image_id for image in catalog.list_images(project_a)] == [ours]
    assert catalog.list_images(project_a, appliance_id=UBUNTU.identifier)[0].image_id == ours
    for call in (catalog.get_image, catalog.mark_active, catalog.delete_image):
        with pytest.raises(CatalogNotFound):
            call(project_a, snapshot)
    with pytest.raises(CatalogNotFound):
        catalog.retire(project_a, snapshot, 1700000000)
    with pytest.raises(CatalogNotFound):
        catalog.update_metadata(project_a, snapshot, CENTOS)
    assert raw_image(project_a, snapshot) == before


def test_an_image_with_our_tag_naming_no_appliance_is_not_ours(
    catalog: ImageCatalog, project_a: ProjectRef, raw_image: RawImage, add_foreign_image: AddForeign, tag: str
) -> None:
    tagged = add_foreign_image(project_a, {"APPLIANCE_ID": UBUNTU.identifier}, tags=frozenset({tag}))
    before = raw_image(project_a, tagged)
    assert catalog.list_images(project_a) == []
    for call in (catalog.get_image, catalog.mark_active, catalog.delete_image):
        with pytest.raises(CatalogNotFound):
            call(project_a, tagged)
    with pytest.raises(CatalogNotFound):
        catalog.retire(project_a, tagged, 1700000000)
    with pytest.raises(CatalogNotFound):
        catalog.update_metadata(project_a, tagged, UBUNTU)
    assert raw_image(project_a, tagged) == before

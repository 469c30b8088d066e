"""GlanceCatalog on the devcloud, beyond the contract: uploads that fail, listings, others' images."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from attrs import evolve

from ckos.adapters.glance import catalog as catalog_module
from ckos.adapters.glance.sessions import ProjectClients
from ckos.domain.errors import CatalogNotFound, ImageInUse, TransferMismatch
from ckos.domain.model import ImageState, ProjectRef
from ckos.domain.ports import ImageCatalog
from ckos.domain.transfer import VerifyingReader
from support.appliances import CENTOS, DATA, IMAGE, UBUNTU, live, uploaded
from support.glance_admin import ckos_credentials
from support.glance_proxy import GlanceProxy
from support.glance_testbed import EXAMPLE, FEDCLOUD, GlanceTestbed
from support.request_log import record_requests


class RecordingReader:
    """Passes reads through, keeping the error the stream raised."""

    def __init__(self, stream: VerifyingReader) -> None:
        self._stream = stream
        self.raised: Exception | None = None

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._stream.read(size)
        except Exception as error:
            self.raised = error
            raise


def test_an_upload_whose_stream_fails_raises_that_very_error_and_leaves_a_deletable_image(
    testbed: GlanceTestbed,
) -> None:
    catalog = testbed.catalog()
    image_id = catalog.create_image(FEDCLOUD, UBUNTU)
    # Several MiB where 200 KiB were announced: the verifying reader stops it midway.
    stream = RecordingReader(VerifyingReader(io.BytesIO(DATA * 30), IMAGE, "image of appliance x"))
    with pytest.raises(TransferMismatch, match="larger than the announced") as caught:
        catalog.upload(FEDCLOUD, image_id, stream)
    assert caught.value is stream.raised
    assert catalog.get_image(FEDCLOUD, image_id).state is not ImageState.ACTIVE
    catalog.delete_image(FEDCLOUD, image_id)
    with pytest.raises(CatalogNotFound):
        catalog.get_image(FEDCLOUD, image_id)
    assert catalog.list_images(FEDCLOUD) == []


def test_each_change_is_one_read_and_one_patch(
    testbed: GlanceTestbed, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = testbed.catalog()
    catalog.create_image(FEDCLOUD, CENTOS)  # the first create of a client reads the image schema
    image_id = uploaded(catalog, FEDCLOUD)
    log = record_requests(monkeypatch)
    one_change = [("GET", f"/v2/images/{image_id}"), ("PATCH", f"/v2/images/{image_id}")]
    changes: list[Callable[[], None]] = [
        lambda: catalog.mark_active(FEDCLOUD, image_id),
        lambda: catalog.update_metadata(FEDCLOUD, image_id, evolve(UBUNTU, description="")),
        lambda: catalog.retire(FEDCLOUD, image_id, 1700000000),
        lambda: catalog.mark_active(FEDCLOUD, image_id),
    ]
    for change in changes:
        log.clear()
        change()
        assert [(r.method, r.url) for r in log] == one_change
    log.clear()
    catalog.create_image(FEDCLOUD, UBUNTU)
    assert [(r.method, r.url) for r in log] == [("POST", "/v2/images")]
    image = catalog.get_image(FEDCLOUD, image_id)
    assert (image.live, image.retired_at, image.appliance) == (True, None, evolve(UBUNTU, description=""))


def test_a_protected_image_is_kept_as_in_use(testbed: GlanceTestbed) -> None:
    catalog = testbed.catalog()
    image_id = live(catalog, FEDCLOUD)
    catalog.retire(FEDCLOUD, image_id, 1700000000)
    testbed.admin.images.update(image_id, protected=True)  # an operator keeps it
    with pytest.raises(ImageInUse, match="protected"):
        catalog.delete_image(FEDCLOUD, image_id)
    assert catalog.get_image(FEDCLOUD, image_id).retired_at == 1700000000
    testbed.admin.images.update(image_id, protected=False)
    catalog.delete_image(FEDCLOUD, image_id)
    assert catalog.list_images(FEDCLOUD) == []


def test_the_listing_filters_on_the_server_and_reads_every_page(
    testbed: GlanceTestbed, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = testbed.catalog()
    visible = {catalog.create_image(FEDCLOUD, evolve(UBUNTU, identifier=f"app-{n}")) for n in range(3)}
    hidden = {live(catalog, FEDCLOUD, evolve(CENTOS, identifier=f"old-{n}")) for n in range(3)}
    for image_id in hidden:
        catalog.retire(FEDCLOUD, image_id, 1700000000)
    # What the filters must leave out: untagged, or another project's (public, so visible).
    testbed.foreign(FEDCLOUD, {"APPLIANCE_ID": "app-0", "APPLIANCE_IMAGE_LIST_ID": "l"})
    testbed.foreign(EXAMPLE, {"APPLIANCE_ID": "app-0", "APPLIANCE_IMAGE_LIST_ID": "l"},
                    tags=(testbed.tag,), visibility="public")  # fmt: skip
    log = record_requests(monkeypatch)
    monkeypatch.setattr(catalog_module, "PAGE_SIZE", 2)

    assert {image.image_id for image in catalog.list_images(FEDCLOUD)} == visible | hidden
    listings = [r.url for r in log if r.url.startswith("/v2/images?")]
    owner = f"owner={testbed.project_id(FEDCLOUD)}"
    assert all(owner in url and f"tag={testbed.tag}" in url and "limit=2" in url for url in listings)
    assert sum("marker=" in url for url in listings) >= 2  # both hidden and visible images paged
    assert {image.image_id for image in catalog.list_images(FEDCLOUD, appliance_id="app-0")} <= visible


def snapshot_of(testbed: GlanceTestbed, image_id: str, **fields: Any) -> str:
    """A user's Nova snapshot of a server booted from the image: its properties, not its tags."""
    copied = dict(testbed.admin.record(image_id).properties)
    nova = {"image_type": "snapshot", "instance_uuid": str(uuid.uuid4()), "base_image_ref": image_id}
    return testbed.foreign(FEDCLOUD, {**copied, **nova}, **fields)


def refusals(catalog: ImageCatalog, project: ProjectRef, image_id: str) -> list[str]:
    """The port's calls on the image that did not raise CatalogNotFound."""
    calls: dict[str, Callable[[], object]] = {
        "get_image": lambda: catalog.get_image(project, image_id),
        "upload": lambda: catalog.upload(project, image_id, io.BytesIO(DATA)),
        "mark_active": lambda: catalog.mark_active(project, image_id),
        "update_metadata": lambda: catalog.update_metadata(project, image_id, CENTOS),
        "retire": lambda: catalog.retire(project, image_id, 1700000000),
        "delete_image": lambda: catalog.delete_image(project, image_id),
    }
    accepted = []
    for name, call in calls.items():
        try:
            call()
        except CatalogNotFound:
            continue
        accepted.append(name)
    return accepted


@pytest.mark.parametrize("hidden", [False, True], ids=["snapshot", "hidden-snapshot"])
def test_a_snapshot_with_copied_properties_is_never_listed_nor_touched(
    testbed: GlanceTestbed, hidden: bool
) -> None:
    catalog = testbed.catalog()
    ours = live(catalog, FEDCLOUD)
    snapshot = snapshot_of(testbed, ours, os_hidden=hidden)
    before = testbed.admin.raw(snapshot)
    assert before["APPLIANCE_STATUS"] == "ACTIVE"  # it even claims to be live
    assert [image.image_id for image in catalog.list_images(FEDCLOUD)] == [ours]
    assert [image.image_id for image in catalog.list_images(FEDCLOUD, appliance_id=UBUNTU.identifier)] == [
        ours
    ]
    assert refusals(catalog, FEDCLOUD, snapshot) == []
    assert testbed.admin.raw(snapshot) == before


def test_another_projects_image_with_our_tag_is_never_listed_nor_touched(testbed: GlanceTestbed) -> None:
    catalog = testbed.catalog()
    theirs = live(catalog, EXAMPLE)
    testbed.admin.images.update(theirs, visibility="public")  # so that fedcloud sees it at all
    before = testbed.admin.raw(theirs)
    assert catalog.list_images(FEDCLOUD) == []
    assert refusals(catalog, FEDCLOUD, theirs) == []
    assert testbed.admin.raw(theirs) == before


def test_a_delete_that_lost_a_race_with_another_delete_is_not_found(testbed: GlanceTestbed) -> None:
    # Two collections deleting one image at once: Glance answers the second 400 ("Image status
    # transition from deleted to deleted is not allowed"), which means the image is gone.
    with GlanceProxy(testbed.cloud.glance_url) as proxy:
        credentials = evolve(ckos_credentials(testbed.cloud), endpoint_override=proxy.url)
        catalog = testbed.catalog(ProjectClients(credentials))
        image_id = uploaded(catalog, FEDCLOUD)
        proxy.race_deletes = True

        with pytest.raises(CatalogNotFound):
            catalog.delete_image(FEDCLOUD, image_id)

    assert testbed.catalog().list_images(FEDCLOUD) == []

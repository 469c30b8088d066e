"""The image catalog on a real Glance (image API v2), one Keystone session per project."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ckos.adapters.catalog_log import changed
from ckos.adapters.glance.errors import translated
from ckos.adapters.glance.limits import check_fields
from ckos.adapters.glance.patch import MEDIA_TYPE as PATCH_MEDIA_TYPE
from ckos.adapters.glance.patch import image_patch
from ckos.adapters.glance.properties import (
    RETIRED_AT,
    STATUS,
    ImageFields,
    RamUnit,
    appliance_filter,
    creation_properties,
    encode,
    stale_properties,
)
from ckos.adapters.glance.record import from_glance, glance_properties, to_managed
from ckos.adapters.glance.sessions import ProjectClients
from ckos.domain.errors import CatalogNotFound, CatalogRejected, ImageInUse, UnsupportedFormat
from ckos.domain.model import Appliance, ManagedImage, ProjectRef
from ckos.domain.ports import ImageCatalog, Readable

PAGE_SIZE = 200


class GlanceCatalog(ImageCatalog):
    def __init__(
        self,
        clients: ProjectClients,
        *,
        tag: str = "cloudkeeper-os",
        visibility: str = "private",
        ram_unit: RamUnit = RamUnit.AUTO,
    ) -> None:
        self._clients = clients
        self._tag = tag
        self._visibility = visibility
        self._ram_unit = ram_unit
        self._offered: tuple[frozenset[str], frozenset[str]] | None = None  # disk, container formats

    def list_images(self, project: ProjectRef, *, appliance_id: str | None = None) -> Sequence[ManagedImage]:
        client = self._clients.client(project)
        found: list[ManagedImage] = []
        # Glance leaves hidden images out of a listing unless asked for them alone.
        for hidden in (False, True):
            filters: dict[str, Any] = {"owner": client.project_id, "tag": [self._tag], "os_hidden": hidden}
            if appliance_id is not None:
                name, value = appliance_filter(appliance_id)
                filters[name] = value
            with translated(f"listing the images of project {project}"):
                for image in client.glance.images.list(filters=filters, page_size=PAGE_SIZE):
                    managed = to_managed(from_glance(image), project, self._tag)
                    if managed is not None:
                        found.append(managed)
        return found

    def create_image(self, project: ProjectRef, appliance: Appliance) -> str:
        fields = self._fields(appliance)
        client = self._clients.client(project)
        if fields.disk_format is None or fields.container_format is None:
            raise CatalogRejected(f"appliance {appliance.identifier}: no image format to create with")
        self._check_formats(client.glance, fields)
        with translated(f"creating an image for appliance {appliance.identifier} in project {project}"):
            image = client.glance.images.create(
                name=fields.name,
                disk_format=fields.disk_format,
                container_format=fields.container_format,
                min_ram=fields.min_ram,
                visibility=self._visibility,
                tags=[self._tag],
                **creation_properties(fields),
            )
        image_id = str(image["id"])
        changed("created", project, image_id, appliance=appliance.identifier)
        return image_id

    def upload(self, project: ProjectRef, image_id: str, data: Readable) -> None:
        # Glance refuses an upload it will not take (not found, data already set) without
        # reading the body: the request then hangs until the server drops the connection.
        # Asked first, nothing is sent in vain.
        status = self._ours(project, image_id).get("status")
        if status != "queued":
            raise CatalogRejected(f"image {image_id} is {status}: its data is already set")
        client = self._clients.client(project)
        try:
            with translated(f"uploading the data of image {image_id}"):
                client.glance.images.upload(image_id, data)
        except BaseException:
            # A refused or broken upload leaves unread bytes on its connection, and the server
            # resets it: drop the pooled connections so that the next call opens a fresh one.
            client.session.close()
            raise
        changed("uploaded", project, image_id)

    def get_image(self, project: ProjectRef, image_id: str) -> ManagedImage:
        return self._managed(project, image_id)[1]

    def mark_active(self, project: ProjectRef, image_id: str) -> None:
        image = self._ours(project, image_id)
        remove = [RETIRED_AT] if RETIRED_AT in image else []
        self._update(project, image_id, remove, os_hidden=False, **{STATUS: "ACTIVE"})
        changed("marked active", project, image_id)

    def update_metadata(self, project: ProjectRef, image_id: str, appliance: Appliance) -> None:
        fields = self._fields(appliance)
        image = self._ours(project, image_id)
        stale = stale_properties(glance_properties(image), fields)
        self._update(project, image_id, stale, name=fields.name, min_ram=fields.min_ram, **fields.properties)
        changed("updated the metadata of", project, image_id)

    def retire(self, project: ProjectRef, image_id: str, at: int) -> None:
        self._ours(project, image_id)
        self._update(project, image_id, [], os_hidden=True, **{STATUS: "EOL", RETIRED_AT: str(at)})
        changed("retired", project, image_id)

    def delete_image(self, project: ProjectRef, image_id: str) -> None:
        # An operator protects an image to keep it: Glance would answer 403, which is no reason
        # to fail a whole collection. It is kept, as an image in use is, until unprotected.
        if self._ours(project, image_id).get("protected"):
            raise ImageInUse(f"image {image_id} is protected")
        client = self._clients.client(project)
        try:
            with translated(f"deleting image {image_id}", conflict=ImageInUse):
                client.glance.images.delete(image_id)
        except CatalogRejected:
            # Glance answers the second of two deletes racing each other with 400 ("Image status
            # transition from deleted to deleted"): gone is gone, and _ours says CatalogNotFound.
            self._ours(project, image_id)
            raise
        changed("deleted", project, image_id)

    def _ours(self, project: ProjectRef, image_id: str) -> Mapping[str, Any]:
        return self._managed(project, image_id)[0]

    def _managed(self, project: ProjectRef, image_id: str) -> tuple[Mapping[str, Any], ManagedImage]:
        client = self._clients.client(project)
        with translated(f"reading image {image_id}"):
            image: Mapping[str, Any] = client.glance.images.get(image_id)
        # Never touch another project's image, one without our tag (a user's snapshot), or one
        # naming no appliance (tagged by hand): as listing never shows them.
        managed = to_managed(from_glance(image), project, self._tag)
        if image.get("owner") != client.project_id or managed is None:
            raise CatalogNotFound(f"no image {image_id} of ours in project {project}")
        return image, managed

    def _update(self, project: ProjectRef, image_id: str, remove: list[str], **changes: Any) -> None:
        client = self._clients.client(project)
        headers = {"Content-Type": PATCH_MEDIA_TYPE}
        with translated(f"updating image {image_id}"):
            client.glance.http_client.patch(
                f"/v2/images/{image_id}", headers=headers, data=image_patch(changes, remove)
            )

    def _fields(self, appliance: Appliance) -> ImageFields:
        fields = encode(appliance, ram_unit=self._ram_unit)
        check_fields(fields)
        return fields

    def _check_formats(self, glance: Any, fields: ImageFields) -> None:
        # One Glance serves every project, and its formats change only with its configuration:
        # read them once (a restart of the daemon sees a change).
        if self._offered is None:
            with translated("reading Glance's image schema"):
                offered = glance.schemas.get("image").raw()["properties"]
            disks = offered.get("disk_format", {}).get("enum") or []
            containers = offered.get("container_format", {}).get("enum") or []
            self._offered = frozenset(disks), frozenset(containers)
        disks, containers = self._offered
        if fields.disk_format not in disks or fields.container_format not in containers:
            raise UnsupportedFormat(
                f"Glance offers no disk format {fields.disk_format} in container {fields.container_format}"
            )

"""An in-memory Glance: the catalog for tests and throwaway runs, faithful where it matters.

It keeps Glance-like records (owner, tags, string properties, queued -> active, SHA-512 of the
data) and answers with the domain's errors, as the real adapter translates Glance's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence

from attrs import evolve

from ckos.adapters.catalog_log import changed
from ckos.adapters.glance.formats import GLANCE_CONTAINER_FORMATS, GLANCE_DISK_FORMATS
from ckos.adapters.glance.limits import check_fields
from ckos.adapters.glance.properties import (
    MANAGED_PROPERTIES,
    RETIRED_AT,
    STATUS,
    ImageFields,
    RamUnit,
    appliance_filter,
    creation_properties,
    encode,
)
from ckos.adapters.glance.record import ImageRecord, to_managed
from ckos.adapters.memory_faults import CatalogFaults, Operation
from ckos.adapters.memory_store import MemoryImageStore
from ckos.domain.errors import CatalogNotFound, CatalogRejected, ImageInUse, UnsupportedFormat
from ckos.domain.model import Appliance, ManagedImage, ProjectRef
from ckos.domain.ports import ImageCatalog, Readable


def _unix_now() -> int:
    return int(time.time())


class MemoryCatalog(MemoryImageStore, ImageCatalog):
    """Images per project in memory. Tests rig it through `faults` and the store's hooks."""

    def __init__(
        self,
        *,
        tag: str = "cloudkeeper-os",
        visibility: str = "private",
        clock: Callable[[], int] = _unix_now,
        disk_formats: Collection[str] = GLANCE_DISK_FORMATS,
        container_formats: Collection[str] = GLANCE_CONTAINER_FORMATS,
        ram_unit: RamUnit = RamUnit.AUTO,
    ) -> None:
        super().__init__(clock)
        self.tag = tag
        self.faults = CatalogFaults()
        self._visibility = visibility
        self._disk_formats = frozenset(disk_formats)
        self._container_formats = frozenset(container_formats)
        self._ram_unit = ram_unit

    def list_images(self, project: ProjectRef, *, appliance_id: str | None = None) -> Sequence[ManagedImage]:
        # Glance compares the stored property, as it is: the identifier as encode() stored it.
        wanted = None if appliance_id is None else appliance_filter(appliance_id)
        with self._lock:
            self._enter("list_images", project, None)
            found = [
                managed
                for record in self._records.values()
                if record.owner == str(project)
                and (wanted is None or record.properties.get(wanted[0]) == wanted[1])
                and (managed := to_managed(record, project, self.tag)) is not None
            ]
        # Glance lists newest first.
        return sorted(found, key=lambda image: (image.created_at, image.image_id), reverse=True)

    def create_image(self, project: ProjectRef, appliance: Appliance) -> str:
        with self._lock:
            self._enter("create_image", project, None)
            fields = self._fields(appliance)
            disk, container = fields.disk_format, fields.container_format
            if disk is None or container is None:
                raise CatalogRejected(f"appliance {appliance.identifier}: no image format to create with")
            if disk not in self._disk_formats or container not in self._container_formats:
                raise UnsupportedFormat(f"the catalog offers no disk format {disk} in container {container}")
            record = self._new_record(
                project,
                creation_properties(fields),
                tags=frozenset({self.tag}),
                name=fields.name,
                disk_format=disk,
                container_format=container,
                min_ram=fields.min_ram,
                visibility=self._visibility,
            )
            self._records[record.id] = record
        changed("created", project, record.id, appliance=appliance.identifier)
        return record.id

    def upload(self, project: ProjectRef, image_id: str, data: Readable) -> None:
        with self._lock:
            self._enter("upload", project, image_id)
            record = self._ours(project, image_id)
            if record.status != "queued":
                raise CatalogRejected(f"image {image_id} is {record.status}: its data is already set")
            self._records[image_id] = evolve(record, status="saving")
        size = self._fill(image_id, data)
        changed("uploaded", project, image_id, bytes=size)

    def get_image(self, project: ProjectRef, image_id: str) -> ManagedImage:
        with self._lock:
            self._enter("get_image", project, image_id)
            managed = to_managed(self._ours(project, image_id), project, self.tag)
        assert managed is not None  # _ours checked it
        return managed

    def mark_active(self, project: ProjectRef, image_id: str) -> None:
        with self._lock:
            self._enter("mark_active", project, image_id)
            record = self._ours(project, image_id)
            properties = {k: v for k, v in record.properties.items() if k != RETIRED_AT}
            properties[STATUS] = "ACTIVE"
            self._records[image_id] = evolve(record, os_hidden=False, properties=properties)
        changed("marked active", project, image_id)

    def update_metadata(self, project: ProjectRef, image_id: str, appliance: Appliance) -> None:
        with self._lock:
            self._enter("update_metadata", project, image_id)
            record = self._ours(project, image_id)
            fields = self._fields(appliance)
            # Lifecycle marks and properties others set stay; managed ones not written again go.
            kept = {k: v for k, v in record.properties.items() if k not in MANAGED_PROPERTIES}
            properties = {**kept, **fields.properties}
            self._records[image_id] = evolve(
                record, name=fields.name, min_ram=fields.min_ram, properties=properties
            )
        changed("updated the metadata of", project, image_id)

    def retire(self, project: ProjectRef, image_id: str, at: int) -> None:
        with self._lock:
            self._enter("retire", project, image_id)
            record = self._ours(project, image_id)
            properties = {**record.properties, STATUS: "EOL", RETIRED_AT: str(at)}
            self._records[image_id] = evolve(record, os_hidden=True, properties=properties)
        changed("retired", project, image_id)

    def delete_image(self, project: ProjectRef, image_id: str) -> None:
        with self._lock:
            self._enter("delete_image", project, image_id)
            self._ours(project, image_id)
            if image_id in self._in_use:
                raise ImageInUse(f"image {image_id} is in use")
            del self._records[image_id]
            self._data.pop(image_id, None)
        changed("deleted", project, image_id)

    def _enter(self, operation: Operation, project: ProjectRef, image_id: str | None) -> None:
        self.faults.enter(operation, project, image_id)

    def _ours(self, project: ProjectRef, image_id: str) -> ImageRecord:
        # Another project's image, or one without our tag, is as good as absent: never touched.
        record = self._records.get(image_id)
        if record is None or record.owner != str(project) or to_managed(record, project, self.tag) is None:
            raise CatalogNotFound(f"no image {image_id} of ours in project {project}")
        return record

    def _fields(self, appliance: Appliance) -> ImageFields:
        fields = encode(appliance, ram_unit=self._ram_unit)
        check_fields(fields)
        return fields

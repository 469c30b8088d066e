"""The raw image records behind MemoryCatalog, and the hooks tests use to inspect and rig them."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping

from attrs import evolve

from ckos.adapters.glance.record import ImageRecord
from ckos.domain.errors import CatalogNotFound
from ckos.domain.model import ImageState, ProjectRef
from ckos.domain.ports import Readable

CHUNK = 65536


class MemoryImageStore:
    """Glance-like records by image id, ours or not; every access holds the lock."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._lock = threading.RLock()  # gRPC calls run in threads
        self._records: dict[str, ImageRecord] = {}
        self._data: dict[str, bytes] = {}
        self._in_use: set[str] = set()

    def mark_in_use(self, image_id: str, in_use: bool = True) -> None:
        """Make deleting the image fail as Glance's 409 does while a volume or clone uses it."""
        with self._lock:
            (self._in_use.add if in_use else self._in_use.discard)(image_id)

    def set_state(self, image_id: str, state: ImageState) -> None:
        """Force Glance's state of an image (e.g. killed, or stuck in saving)."""
        with self._lock:
            self._records[image_id] = evolve(self._record(image_id), status=state.value)

    def records(self) -> list[ImageRecord]:
        """Copies of every record, ours or not, oldest first."""
        with self._lock:
            return sorted((_copy(r) for r in self._records.values()), key=lambda r: r.created_at)

    def record(self, image_id: str) -> ImageRecord:
        """A copy of one record, ours or not."""
        with self._lock:
            return _copy(self._record(image_id))

    def data(self, image_id: str) -> bytes:
        """The stored bytes of an image (empty before an upload)."""
        with self._lock:
            self._record(image_id)
            return self._data.get(image_id, b"")

    def add_foreign_image(
        self,
        project: ProjectRef,
        properties: Mapping[str, str],
        *,
        tags: frozenset[str] = frozenset(),
        status: ImageState = ImageState.ACTIVE,
        data: bytes = b"",
    ) -> str:
        """Store an image that ckos did not create (untagged unless told) and return its id."""
        record = self._new_record(project, properties, tags=tags, status=status.value)
        with self._lock:
            self._records[record.id] = evolve(record, size=len(data))
            self._data[record.id] = data
        return record.id

    def add_snapshot(self, project: ProjectRef, image_id: str) -> str:
        """A Nova snapshot of a server booted from the image: its properties, none of its tags."""
        nova = {"image_type": "snapshot", "instance_uuid": str(uuid.uuid4()), "base_image_ref": image_id}
        return self.add_foreign_image(project, {**self.record(image_id).properties, **nova})

    def _new_record(
        self,
        project: ProjectRef,
        properties: Mapping[str, str],
        *,
        tags: frozenset[str],
        status: str = "queued",
        name: str = "",
        disk_format: str = "qcow2",
        container_format: str = "bare",
        min_ram: int = 0,
        visibility: str = "private",
    ) -> ImageRecord:
        return ImageRecord(
            id=str(uuid.uuid4()),
            owner=str(project),
            name=name,
            disk_format=disk_format,
            container_format=container_format,
            min_ram=min_ram,
            visibility=visibility,
            os_hidden=False,
            status=status,
            created_at=self._clock(),
            tags=tags,
            properties=dict(properties),
        )

    def _fill(self, image_id: str, data: Readable) -> int:
        """Store the data of a saving image and return its size; a failed read leaves it queued."""
        # Read without the lock: uploads take long and other calls go on meanwhile, as in Glance.
        try:
            content, sha512, md5 = read_all(data)
        except BaseException:
            with self._lock:
                if image_id in self._records:
                    self._records[image_id] = evolve(self._records[image_id], status="queued")
            raise
        with self._lock:
            record = self._record(image_id)  # deleted meanwhile: not found, as in Glance
            self._data[image_id] = content
            self._records[image_id] = evolve(
                record,
                status="active",
                size=len(content),
                checksum=md5,
                os_hash_algo="sha512",
                os_hash_value=sha512,
            )
        return len(content)

    def _record(self, image_id: str) -> ImageRecord:
        record = self._records.get(image_id)
        if record is None:
            raise CatalogNotFound(f"no image {image_id}")
        return record


def read_all(data: Readable) -> tuple[bytes, str, str]:
    """Read a stream in chunks, as glanceclient does; returns the bytes, their SHA-512 and MD5."""
    sha512, md5 = hashlib.sha512(), hashlib.md5(usedforsecurity=False)
    chunks: list[bytes] = []
    while chunk := data.read(CHUNK):
        sha512.update(chunk)
        md5.update(chunk)
        chunks.append(chunk)
    return b"".join(chunks), sha512.hexdigest(), md5.hexdigest()


def _copy(record: ImageRecord) -> ImageRecord:
    return evolve(record, properties=dict(record.properties))

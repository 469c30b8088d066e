"""A project's listing shared by the calls of this process for a short while.

A site's per-VO cores run together, and every run lists every mapped project several times
(ImageLists, Appliances, RemoveExpiredAppliances, PostAction): without sharing, a cycle of N runs
costs about 10·N² Glance requests. Here a project's full listing is read once and served to every
call within `max_age` seconds, one read at a time per project (calls arriving meanwhile wait for
it). Any write of this process to the project ends its listing, so a call never sees a listing
older than its own writes. Decisions that delete or retire are taken again on the image as it is
then (collect.py, retire.py), so a listing at most `max_age` old never deletes or retires by itself.
Listings for one appliance, and every listing asked of the catalog directly, are always fresh.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

from ckos.domain.model import Appliance, ManagedImage, ProjectRef
from ckos.domain.ports import ImageCatalog, Readable

T = TypeVar("T")


class SharedListings(ImageCatalog):
    """Wraps the catalog: shared full listings (`shared`), every other call passed through."""

    def __init__(
        self, inner: ImageCatalog, *, max_age: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.inner = inner
        self._max_age = max_age
        self._monotonic = monotonic
        self._guard = threading.Lock()
        self._reading: defaultdict[ProjectRef, threading.Lock] = defaultdict(threading.Lock)
        self._kept: dict[ProjectRef, tuple[float, int, tuple[ManagedImage, ...]]] = {}
        self._writes: defaultdict[ProjectRef, int] = defaultdict(int)  # per project, ever

    def shared(self, project: ProjectRef) -> Sequence[ManagedImage]:
        """Every image of ours in the project, as read at most `max_age` seconds ago."""
        with self._guard:
            reading = self._reading[project]
        with reading:  # one read per project at a time; those waiting take its result
            kept = self._fresh(project)
            if kept is not None:
                return kept
            return self.list_images(project)

    def list_images(self, project: ProjectRef, *, appliance_id: str | None = None) -> Sequence[ManagedImage]:
        with self._guard:
            writes = self._writes[project]
        started = self._monotonic()
        images = self.inner.list_images(project, appliance_id=appliance_id)
        if appliance_id is None and self._max_age > 0:
            with self._guard:
                if self._writes[project] == writes:  # no write of ours while it was read
                    self._kept[project] = (started, writes, tuple(images))
        return images

    def _fresh(self, project: ProjectRef) -> tuple[ManagedImage, ...] | None:
        with self._guard:
            kept = self._kept.get(project)
            if kept is None:
                return None
            read_at, writes, images = kept
            if writes != self._writes[project] or self._monotonic() - read_at > self._max_age:
                del self._kept[project]
                return None
            return images

    def _write(self, project: ProjectRef, change: Callable[[], T]) -> T:
        """Run a write to the project; listings read before its end are not kept."""
        self._wrote(project)
        try:
            return change()
        finally:
            self._wrote(project)

    def _wrote(self, project: ProjectRef) -> None:
        with self._guard:
            self._writes[project] += 1
            self._kept.pop(project, None)

    def create_image(self, project: ProjectRef, appliance: Appliance) -> str:
        return self._write(project, lambda: self.inner.create_image(project, appliance))

    def upload(self, project: ProjectRef, image_id: str, data: Readable) -> None:
        self._write(project, lambda: self.inner.upload(project, image_id, data))

    def get_image(self, project: ProjectRef, image_id: str) -> ManagedImage:
        return self.inner.get_image(project, image_id)

    def mark_active(self, project: ProjectRef, image_id: str) -> None:
        self._write(project, lambda: self.inner.mark_active(project, image_id))

    def update_metadata(self, project: ProjectRef, image_id: str, appliance: Appliance) -> None:
        self._write(project, lambda: self.inner.update_metadata(project, image_id, appliance))

    def retire(self, project: ProjectRef, image_id: str, at: int) -> None:
        self._write(project, lambda: self.inner.retire(project, image_id, at))

    def delete_image(self, project: ProjectRef, image_id: str) -> None:
        self._write(project, lambda: self.inner.delete_image(project, image_id))

"""Another process's call slipped in between two steps of a use case, deterministically.

    catalog = Interleaved(world.catalog)
    catalog.before("delete_image", lambda: other.post_action())

runs the other call once, just before the next delete_image reaches the shared catalog: what
two daemons (or a daemon and a sync run) working on one Glance at once can do to each other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.domain.model import Appliance, ManagedImage, ProjectRef
from ckos.domain.ports import ImageCatalog, Readable


class Interleaved(ImageCatalog):
    def __init__(self, catalog: MemoryCatalog) -> None:
        self.catalog = catalog
        self._pending: defaultdict[str, list[Callable[[], object]]] = defaultdict(list)

    def before(self, operation: str, action: Callable[[], object]) -> None:
        """Run `action` once, just before the next call of `operation`."""
        self._pending[operation].append(action)

    def _step(self, operation: str) -> None:
        while self._pending[operation]:
            self._pending[operation].pop(0)()

    def list_images(self, project: ProjectRef, *, appliance_id: str | None = None) -> Sequence[ManagedImage]:
        self._step("list_images")
        return self.catalog.list_images(project, appliance_id=appliance_id)

    def create_image(self, project: ProjectRef, appliance: Appliance) -> str:
        self._step("create_image")
        return self.catalog.create_image(project, appliance)

    def upload(self, project: ProjectRef, image_id: str, data: Readable) -> None:
        self._step("upload")
        self.catalog.upload(project, image_id, data)

    def get_image(self, project: ProjectRef, image_id: str) -> ManagedImage:
        self._step("get_image")
        return self.catalog.get_image(project, image_id)

    def mark_active(self, project: ProjectRef, image_id: str) -> None:
        self._step("mark_active")
        self.catalog.mark_active(project, image_id)

    def update_metadata(self, project: ProjectRef, image_id: str, appliance: Appliance) -> None:
        self._step("update_metadata")
        self.catalog.update_metadata(project, image_id, appliance)

    def retire(self, project: ProjectRef, image_id: str, at: int) -> None:
        self._step("retire")
        self.catalog.retire(project, image_id, at)

    def delete_image(self, project: ProjectRef, image_id: str) -> None:
        self._step("delete_image")
        self.catalog.delete_image(project, image_id)

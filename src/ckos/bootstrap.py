"""The composition root: builds the wired application from settings. Tests pass fakes in."""

from __future__ import annotations

from attrs import frozen

from ckos.adapters.clock import SystemClock
from ckos.adapters.image_data.local import LocalImageFiles
from ckos.adapters.mapping_json import JsonVODirectory
from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.config import ConfigError, Settings
from ckos.domain.backend import Backend
from ckos.domain.context import Context, LifecyclePolicy
from ckos.domain.ports import Clock, ImageCatalog, ImageData, VODirectory


@frozen
class Application:
    settings: Settings
    backend: Backend
    directory: VODirectory
    catalog: ImageCatalog


def build(
    settings: Settings,
    *,
    catalog: ImageCatalog | None = None,
    image_data: ImageData | None = None,
    clock: Clock | None = None,
    directory: VODirectory | None = None,
) -> Application:
    """Wire the use cases to their adapters; anything given replaces the configured one."""
    clock = clock or SystemClock()
    directory = directory or JsonVODirectory(settings.mapping.file)
    catalog = catalog or _catalog(settings, clock)
    image_data = image_data or LocalImageFiles(settings.images.local_directories)
    policy = LifecyclePolicy(
        retire_grace=settings.lifecycle.retire_grace,
        stale_upload_after=settings.lifecycle.stale_upload_after,
    )
    context = Context(catalog=catalog, image_data=image_data, directory=directory, clock=clock, policy=policy)
    return Application(settings=settings, backend=Backend(context), directory=directory, catalog=catalog)


def _catalog(settings: Settings, clock: Clock) -> ImageCatalog:
    if settings.catalog.type == "memory":
        return MemoryCatalog(tag=settings.glance.tag, visibility=settings.glance.visibility, clock=clock.now)
    raise ConfigError("catalog.type = 'glance' needs the Glance adapter, which this build lacks")

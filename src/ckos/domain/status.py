"""`cloudkeeper-os status`: what ckos manages, per mapped project, read afresh from the catalog."""

from __future__ import annotations

from attrs import frozen

from ckos.domain.collect import lifecycle_state
from ckos.domain.context import Context
from ckos.domain.errors import CkosError
from ckos.domain.inventory import newest_first
from ckos.domain.model import ProjectRef

SYNC_LIST_PREFIX = "oci:"  # image lists of the sync's OCI sources (ckos.adapters.sources.oci_source)


@frozen
class ImageStatus:
    identifier: str
    title: str
    version: str
    image_id: str
    state: str  # live, retired or unfinished
    size: int | None
    age: int  # seconds since the image was created
    source: str  # "list <id>" (a core's or a HEPiX list), or "sync <source name>"


@frozen
class ProjectStatus:
    project: ProjectRef
    vos: tuple[str, ...]
    images: tuple[ImageStatus, ...]
    error: str = ""  # the project could not be listed


def status(ctx: Context) -> list[ProjectStatus]:
    """Every image of ours in each mapped project, newest first; a failing project is reported."""
    mapping = ctx.directory.mapping()
    now = ctx.clock.now()
    found: list[ProjectStatus] = []
    for project in mapping.projects():
        vos = mapping.vos_of(project)
        try:
            images = newest_first(ctx.catalog.list_images(project))
        except CkosError as error:
            found.append(ProjectStatus(project=project, vos=vos, images=(), error=str(error)))
            continue
        rows = tuple(
            ImageStatus(
                identifier=image.appliance.identifier,
                title=image.appliance.title,
                version=image.appliance.version,
                image_id=image.image_id,
                state=lifecycle_state(image),
                size=image.size,
                age=max(0, now - image.created_at),
                source=_source(image.appliance.image_list_identifier),
            )
            for image in images
        )
        found.append(ProjectStatus(project=project, vos=vos, images=rows))
    return found


def _source(image_list_identifier: str) -> str:
    if image_list_identifier.startswith(SYNC_LIST_PREFIX):
        return f"sync {image_list_identifier.removeprefix(SYNC_LIST_PREFIX)}"
    return f"list {image_list_identifier}"

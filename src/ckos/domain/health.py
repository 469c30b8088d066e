"""Can every mapped project be reached? For `cloudkeeper-os check` and the health service."""

from __future__ import annotations

from attrs import frozen

from ckos.domain.context import Context
from ckos.domain.errors import CkosError
from ckos.domain.model import ProjectRef


@frozen
class ProjectCheck:
    project: ProjectRef
    vos: tuple[str, ...]
    images: int | None  # our images in the project; None when it could not be listed
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.images is not None


def check_projects(ctx: Context) -> list[ProjectCheck]:
    """Authenticate to and list every mapped project; a failure is reported, not raised."""
    mapping = ctx.directory.mapping()
    checks: list[ProjectCheck] = []
    for project in mapping.projects():
        vos = mapping.vos_of(project)
        try:
            images = len(ctx.catalog.list_images(project))
        except CkosError as error:
            checks.append(ProjectCheck(project=project, vos=vos, images=None, error=str(error)))
        else:
            checks.append(ProjectCheck(project=project, vos=vos, images=images))
    return checks

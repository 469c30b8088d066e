"""One test's share of the devcloud's Glance: a tag of its own, and its images deleted after it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from attrs import define, field

from ckos.adapters.glance.catalog import GlanceCatalog
from ckos.adapters.glance.sessions import ProjectClients
from ckos.domain.model import ProjectRef
from support.devcloud import DevCloud
from support.glance_admin import GlanceAdmin, ckos_clients, cleaned_up, unique_tag

# Projects of the devcloud's TEST_VOS.
FEDCLOUD = ProjectRef(name="fedcloud", domain="default")
EXAMPLE = ProjectRef(name="example", domain="default")
OTHER = ProjectRef(name="other", domain="default")


@define
class GlanceTestbed:
    """The devcloud for one test: its images carry `tag`, or are listed in `made`."""

    cloud: DevCloud
    admin: GlanceAdmin
    tag: str
    made: list[str] = field(factory=list)

    def catalog(self, clients: ProjectClients | None = None) -> GlanceCatalog:
        """A catalog of the ckos user (with fresh sessions unless `clients` is given)."""
        return GlanceCatalog(clients or ckos_clients(self.cloud), tag=self.tag)

    def foreign(self, project: ProjectRef, properties: Mapping[str, str], **fields: Any) -> str:
        """An image someone else made in the project; deleted after the test."""
        self.made.append(self.admin.create(self.project_id(project), properties, **fields))
        return self.made[-1]

    def project_id(self, project: ProjectRef) -> str:
        return self.cloud.projects[str(project.name)]


@contextmanager
def glance_testbed(cloud: DevCloud, admin: GlanceAdmin, prefix: str) -> Iterator[GlanceTestbed]:
    bed = GlanceTestbed(cloud=cloud, admin=admin, tag=unique_tag(prefix))
    with cleaned_up(admin, bed.tag, bed.made):
        yield bed

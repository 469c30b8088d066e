"""Which OpenStack project holds the appliances of each VO."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from ckos.domain.errors import UnmappedVO
from ckos.domain.model import ProjectRef


@frozen
class VOMapping:
    projects_by_vo: Mapping[str, ProjectRef] = field(factory=dict)

    def project_for(self, vo: str) -> ProjectRef:
        try:
            return self.projects_by_vo[vo]
        except KeyError:
            raise UnmappedVO(f"VO {vo!r} is not mapped to any project") from None

    def vos_of(self, project: ProjectRef) -> tuple[str, ...]:
        """The VOs mapped to the project, sorted."""
        return tuple(sorted(vo for vo, mapped in self.projects_by_vo.items() if mapped == project))

    def projects(self) -> list[ProjectRef]:
        """Each mapped project once, in a stable order."""
        return list(dict.fromkeys(self.projects_by_vo.values()))

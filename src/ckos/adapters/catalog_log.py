"""One log line per change a catalog makes: create, upload, mark active, metadata, retire, delete.

Glance and the in-memory catalog log alike, so the log of a test run reads like a site's.
"""

from __future__ import annotations

from loguru import logger

from ckos.domain.model import ProjectRef


def changed(action: str, project: ProjectRef, image_id: str, **details: object) -> None:
    """Log a change that succeeded; `details` (e.g. appliance=...) go into the line and its fields."""
    extra = "".join(f", {key} {value}" for key, value in details.items())
    # depth=1: the line names the catalog that made the change, not this module.
    logger.opt(depth=1).bind(change=action, project=str(project), image=image_id, **details).info(
        "{} image {} in project {}{}", action, image_id, project, extra
    )

"""What one call did in the catalog: reported in the call's log line and counted in the metrics.

Nothing of it goes back to the core (its RPCs answer Empty): it tells the operator which
project and which Glance images a call touched.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from ckos.domain.model import ProjectRef


@frozen
class Outcome:
    project: ProjectRef | None = None
    image_id: str = ""  # the appliance's live image after the call; empty when none
    uploaded: bool = False  # new image data was stored (False: a live image already held the bytes)
    retired: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    kept_in_use: tuple[str, ...] = ()  # due for deletion, but the catalog reports them in use
    census: Mapping[str, int] | None = None  # our images by lifecycle state, when the call counted them

    def images(self) -> tuple[str, ...]:
        """Every image the call touched, the live one first."""
        live = (self.image_id,) if self.image_id else ()
        return live + self.retired + self.deleted + self.kept_in_use

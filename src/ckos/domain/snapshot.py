"""What a sync source offers: a snapshot of its appliances, complete, or an error.

A source never answers an error with an empty snapshot: whatever keeps it from reading every
appliance raises SourceIncomplete, which carries the offers it could read (to add and update)
so that nothing is removed on the strength of a partial view.
"""

from __future__ import annotations

from attrs import frozen

from ckos.domain.errors import CkosError
from ckos.domain.model import Appliance, ImageSource


@frozen
class Offer:
    """One appliance as its source describes it, and where the sync reads its image.

    The appliance carries its image facts: checksum (SHA-512 in hex, or "sha256:<hex>" for a
    content-addressed blob), size, format and digest. The source is opened by the sync's image
    data (an `oci://` or `http(s)://` location, or a LOCAL file of the work directory).
    """

    appliance: Appliance
    source: ImageSource


@frozen
class Snapshot:
    """Every appliance of one source, read completely."""

    source: str  # the configured name of the source
    image_list_identifier: str  # every offer's appliance belongs to this list
    vo: str  # whose mapped project receives the images
    offers: tuple[Offer, ...]
    expired: bool = False  # a list past its expiry: nothing is added or updated from it


class SourceIncomplete(CkosError):
    """The source could not be read completely; `partial` holds what could be read, if anything."""

    def __init__(self, message: str, partial: Snapshot | None = None) -> None:
        super().__init__(message)
        self.partial = partial

    @classmethod
    def of(cls, source: str, problems: list[str], partial: Snapshot) -> SourceIncomplete:
        """The source could read `partial` but not everything: the problems, the first few shown."""
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        return cls(f"source {source}: {len(problems)} problem(s): {shown}", partial=partial)

"""The ports: what the use cases need from the world, as typing.Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from ckos.domain.mapping import VOMapping
from ckos.domain.model import Appliance, ImageFormat, ImageSource, ManagedImage, ProjectRef
from ckos.domain.snapshot import Offer, Snapshot


class Readable(Protocol):
    """A byte stream read in chunks (a file, a response body, a verifying wrapper)."""

    def read(self, size: int = -1, /) -> bytes: ...


class ImageCatalog(Protocol):
    """Where appliances live: Glance, or its in-memory fake.

    Every method raises CatalogUnavailable or CatalogPermissionDenied when the catalog
    cannot serve it; methods naming an image raise CatalogNotFound when it is gone.
    """

    def list_images(self, project: ProjectRef, *, appliance_id: str | None = None) -> Sequence[ManagedImage]:
        """Every image of ours owned by the project, whatever its status. Never partial.

        With appliance_id, only the images of that appliance.
        """
        ...

    def create_image(self, project: ProjectRef, appliance: Appliance) -> str:
        """Create an image record with all properties and our tag, unmarked, and return its id.

        Raises UnsupportedFormat, before creating anything, for a format the catalog lacks.
        """
        ...

    def upload(self, project: ProjectRef, image_id: str, data: Readable) -> None:
        """Store the image data, read to its end."""
        ...

    def get_image(self, project: ProjectRef, image_id: str) -> ManagedImage:
        """The image as the catalog holds it now."""
        ...

    def mark_active(self, project: ProjectRef, image_id: str) -> None:
        """Mark a verified image as the live one of its appliance."""
        ...

    def update_metadata(self, project: ProjectRef, image_id: str, appliance: Appliance) -> None:
        """Rewrite name, sizes and properties from the appliance; never touch the data."""
        ...

    def retire(self, project: ProjectRef, image_id: str, at: int) -> None:
        """Mark the image end-of-life and hide it; it stays usable by what runs on it."""
        ...

    def delete_image(self, project: ProjectRef, image_id: str) -> None:
        """Delete the image. Raises ImageInUse while the catalog says it is in use."""
        ...


class ImageData(Protocol):
    """Opens the file the core offers for one call."""

    def open(self, source: ImageSource) -> AbstractContextManager[Readable]:
        """A stream of the file's bytes; raises SourceForbidden or SourceUnavailable."""
        ...


class VODirectory(Protocol):
    """The current VO -> project mapping (it may be reloaded while the daemon runs)."""

    def mapping(self) -> VOMapping: ...


class Clock(Protocol):
    def now(self) -> int:
        """Unix time in seconds."""
        ...


class ApplianceSource(Protocol):
    """A sync source: an OCI registry, a HEPiX image list."""

    @property
    def name(self) -> str: ...

    def read(self) -> Snapshot:
        """Every appliance the source offers now; raises SourceIncomplete, never a partial snapshot."""
        ...

    def applied(self) -> None:
        """What `read` returned was applied (never said after a dry run, nor when nothing could be
        planned): a source may now remember it (a HEPiX list's anti-rollback state)."""
        ...


class Conversion(Protocol):
    """Brings an offered image into a format the site wants (sync only)."""

    def converted(self, offer: Offer, target: ImageFormat) -> AbstractContextManager[Offer]:
        """The offer with its image converted to `target`, for the time of the block.

        Reads the offer's image once into the work directory (verified), inspects it, converts
        it, and yields an offer whose source is the converted file (LOCAL) and whose facts
        describe that file (SHA-512, size, format). Everything written is removed on exit.
        Raises ConversionFailed, SourceUnavailable or TransferMismatch.
        """
        ...

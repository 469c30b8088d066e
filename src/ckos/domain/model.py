"""Value objects of the domain: appliances, their images, and what the catalog holds."""

from __future__ import annotations

import enum

from attrs import field, frozen


class ImageFormat(enum.Enum):
    """Format of the file the core offers (the wire names, lower-cased)."""

    RAW = "raw"
    OVA = "ova"
    QCOW2 = "qcow2"
    VMDK = "vmdk"
    AKI = "aki"
    ISO = "iso"
    VDI = "vdi"
    VHD = "vhd"
    VHDX = "vhdx"
    AMI = "ami"
    ARI = "ari"
    BARE = "bare"
    DOCKER = "docker"
    OVF = "ovf"


class TransferMode(enum.Enum):
    LOCAL = "local"
    REMOTE = "remote"


@frozen
class ImageFacts:
    """What is known and stored about an appliance's image (never how to fetch it)."""

    uri: str
    checksum: str  # of the offered file: SHA-512 in lower-case hex, or "sha256:<hex>" (ckos.domain.checksum)
    size: int
    format: ImageFormat
    digest: str  # opaque, echoed to the core


@frozen
class ImageSource:
    """Where the offered file can be read during one call; never stored, never logged."""

    mode: TransferMode
    location: str
    username: str = ""
    password: str = field(default="", repr=False)


@frozen
class Appliance:
    """One entry of an image list, as the core describes it."""

    identifier: str
    image_list_identifier: str
    vo: str
    mpuri: str
    title: str = ""
    description: str = ""
    group: str = ""
    ram: int = 0
    core: int = 0
    version: str = ""
    architecture: str = ""
    operating_system: str = ""
    expiration_date: int = 0  # Unix seconds, 0 = never
    base_mpuri: str = ""
    appid: str = ""
    digest: str = ""
    image: ImageFacts | None = None
    # What its source says of it beyond the fields above (an OCI artifact's annotations), in the
    # source's order; stored as the ecosystem's APPLIANCE_ATTRIBUTES. Empty for the core's.
    attributes: tuple[tuple[str, str], ...] = ()

    def expired(self, now: int) -> bool:
        return self.expiration_date != 0 and self.expiration_date <= now


@frozen
class ProjectRef:
    """An OpenStack project, by id or by name within a domain."""

    id: str | None = None
    name: str | None = None
    domain: str | None = None

    def __str__(self) -> str:
        if self.id:
            return self.id
        return f"{self.domain or 'default'}/{self.name}"


class ApplianceStatus(enum.Enum):
    """Our lifecycle mark on an image; absent while it is being created."""

    ACTIVE = "ACTIVE"
    EOL = "EOL"


class ImageState(enum.Enum):
    """The catalog's own state of the image data."""

    QUEUED = "queued"
    SAVING = "saving"
    UPLOADING = "uploading"
    IMPORTING = "importing"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    KILLED = "killed"
    DELETED = "deleted"
    PENDING_DELETE = "pending_delete"


UNFINISHED_STATES = frozenset(
    {ImageState.QUEUED, ImageState.SAVING, ImageState.UPLOADING, ImageState.IMPORTING, ImageState.KILLED}
)


@frozen
class ManagedImage:
    """An image in the catalog that carries one of our appliances."""

    image_id: str
    project: ProjectRef
    appliance: Appliance
    status: ApplianceStatus | None
    state: ImageState
    created_at: int  # Unix seconds
    created_ns: int = 0  # when ckos created it, in nanoseconds: orders images of the same second
    size: int | None = None
    sha512: str | None = None  # the catalog's own SHA-512 of the data, when it computed one
    retired_at: int | None = None

    @property
    def live(self) -> bool:
        return self.status is ApplianceStatus.ACTIVE

    def holds(self, checksum: str) -> bool:
        """Whether this image already stores the bytes with this SHA-512."""
        if self.state is not ImageState.ACTIVE:
            return False
        stored = self.appliance.image.checksum if self.appliance.image else None
        return checksum in (stored, self.sha512)

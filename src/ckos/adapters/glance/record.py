"""A Glance image record as the API shows it, and what it means for the domain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from attrs import field, frozen

from ckos.adapters.glance.properties import created_ns_of, decode, retired_at_of, status_of
from ckos.domain.model import ImageState, ManagedImage, ProjectRef


@frozen
class ImageRecord:
    """The attributes of a Glance image that ckos reads or writes (properties are strings)."""

    id: str
    owner: str
    name: str
    disk_format: str | None
    container_format: str | None
    min_ram: int
    visibility: str
    os_hidden: bool
    status: str  # Glance's own state: queued, saving, active, killed...
    created_at: int  # Unix seconds
    tags: frozenset[str] = frozenset()
    properties: Mapping[str, str] = field(factory=dict)
    size: int | None = None
    checksum: str | None = None  # MD5, still computed by Glance
    os_hash_algo: str | None = None
    os_hash_value: str | None = None


def to_managed(record: ImageRecord, project: ProjectRef, tag: str) -> ManagedImage | None:
    """The managed image the record holds, or None when it is not ours.

    Ours means: our tag (never copied into Nova snapshots) and properties naming an appliance.
    """
    if tag not in record.tags:
        return None
    appliance = decode(record.properties)
    if appliance is None:
        return None
    return ManagedImage(
        image_id=record.id,
        project=project,
        appliance=appliance,
        status=status_of(record.properties),
        state=ImageState(record.status),
        created_at=record.created_at,
        created_ns=created_ns_of(record.properties),
        size=record.size,
        sha512=record.os_hash_value if record.os_hash_algo == "sha512" else None,
        retired_at=retired_at_of(record.properties),
    )


# Attributes of a Glance image that are not free-form properties.
_CORE = frozenset(
    [
        "id",
        "name",
        "owner",
        "status",
        "visibility",
        "os_hidden",
        "protected",
        "tags",
        "disk_format",
        "container_format",
        "min_ram",
        "min_disk",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "created_at",
        "updated_at",
        "file",
        "schema",
        "direct_url",
        "locations",
        "stores",
        "self",
    ]
)


def glance_properties(image: Mapping[str, Any]) -> dict[str, str]:
    """The free-form string properties of an image as the Glance API returns it."""
    return {key: value for key, value in image.items() if key not in _CORE and isinstance(value, str)}


def from_glance(image: Mapping[str, Any]) -> ImageRecord:
    """The record of an image as the Glance API returns it."""
    return ImageRecord(
        id=str(image["id"]),
        owner=str(image.get("owner") or ""),
        name=str(image.get("name") or ""),
        disk_format=image.get("disk_format"),
        container_format=image.get("container_format"),
        min_ram=int(image.get("min_ram") or 0),
        visibility=str(image.get("visibility") or ""),
        os_hidden=bool(image.get("os_hidden")),
        status=str(image.get("status") or "queued"),
        created_at=_unix_seconds(str(image["created_at"])),
        tags=frozenset(image.get("tags") or ()),
        properties=glance_properties(image),
        size=image.get("size"),
        checksum=image.get("checksum"),
        os_hash_algo=image.get("os_hash_algo"),
        os_hash_value=image.get("os_hash_value"),
    )


def _unix_seconds(timestamp: str) -> int:
    moment = datetime.fromisoformat(timestamp)
    # Glance writes UTC ("...Z"); a time without a zone is UTC too, never the host's local time.
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())

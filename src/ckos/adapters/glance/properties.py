"""The property codec: an appliance as Glance image fields and string properties, and back.

Pure functions shared by the in-memory fake and the real Glance adapter, so both store exactly
the same schema (glance-contract §2 and §3).
"""

from __future__ import annotations

import enum
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from ckos.adapters.glance.ecosystem import ECOSYSTEM_PROPERTIES, ecosystem_properties
from ckos.adapters.glance.escapes import readable, storable
from ckos.adapters.glance.formats import glance_formats
from ckos.domain.model import Appliance, ApplianceStatus, ImageFacts, ImageFormat

STATUS = "APPLIANCE_STATUS"
RETIRED_AT = "APPLIANCE_RETIRED_AT"  # Unix seconds, set when the image is retired
# Nanoseconds, written once at creation: orders two images Glance created in the same second,
# so that every process agrees which one is the newest (ckos.domain.register._settle).
CREATED_NS = "APPLIANCE_CREATED_NS"

_TEXT = {
    "APPLIANCE_ID": "identifier",
    "APPLIANCE_IMAGE_LIST_ID": "image_list_identifier",
    "APPLIANCE_TITLE": "title",
    "APPLIANCE_DESCRIPTION": "description",
    "APPLIANCE_MPURI": "mpuri",
    "APPLIANCE_GROUP": "group",
    "APPLIANCE_VERSION": "version",
    "APPLIANCE_ARCHITECTURE": "architecture",
    "APPLIANCE_OPERATING_SYSTEM": "operating_system",
    "APPLIANCE_VO": "vo",
    "APPLIANCE_BASE_MPURI": "base_mpuri",
    "APPLIANCE_APPID": "appid",
    "APPLIANCE_DIGEST": "digest",
}
_NUMBERS = {"APPLIANCE_RAM": "ram", "APPLIANCE_CORE": "core", "APPLIANCE_EXPIRATION_DATE": "expiration_date"}
_IMAGE_TEXT = {
    "APPLIANCE_IMAGE_URI": "uri",
    "APPLIANCE_IMAGE_CHECKSUM": "checksum",
    "APPLIANCE_IMAGE_DIGEST": "digest",
}
_IMAGE_SIZE = "APPLIANCE_IMAGE_SIZE"
_IMAGE_FORMAT = "APPLIANCE_IMAGE_FORMAT"
_IMAGE_FACTS = frozenset({*_IMAGE_TEXT, _IMAGE_SIZE, _IMAGE_FORMAT})

MANAGED_PROPERTIES = frozenset({*_TEXT, *_NUMBERS, *_IMAGE_FACTS, *ECOSYSTEM_PROPERTIES})
"""Every property encode() may write: a metadata update removes those it no longer writes."""

_MIB = 1024 * 1024
_GLANCE_NAME_LIMIT = 255
_DECIMAL = re.compile(r"[0-9]+")


class RamUnit(enum.Enum):
    """How to read an appliance's ram: AUTO takes values of 1 MiB and more as bytes."""

    AUTO = "auto"
    BYTES = "bytes"
    MIB = "mib"


@frozen
class ImageFields:
    """What Glance stores for an appliance, apart from tags, visibility and lifecycle marks."""

    name: str
    disk_format: str | None  # None when the appliance carries no image facts
    container_format: str | None
    min_ram: int  # MiB
    properties: dict[str, str]


def encode(appliance: Appliance, *, ram_unit: RamUnit = RamUnit.AUTO) -> ImageFields:
    """The image fields for the appliance. Never carries where or how the image was fetched."""
    properties = {name: getattr(appliance, attr) for name, attr in _TEXT.items()}
    properties.update({name: _decimal(getattr(appliance, attr)) for name, attr in _NUMBERS.items()})
    disk_format = container_format = None
    image = appliance.image
    if image is not None:
        properties.update({name: getattr(image, attr) for name, attr in _IMAGE_TEXT.items()})
        properties[_IMAGE_SIZE] = _decimal(image.size)
        properties[_IMAGE_FORMAT] = image.format.name
        formats = glance_formats(image.format)
        disk_format, container_format = formats.disk_format, formats.container_format
    properties.update(ecosystem_properties(appliance))
    return ImageFields(
        name=storable(appliance.title or appliance.identifier)[:_GLANCE_NAME_LIMIT],
        disk_format=disk_format,
        container_format=container_format,
        min_ram=min_ram_mib(appliance.ram, ram_unit),
        properties={name: storable(value) for name, value in properties.items() if value},
    )


def decode(properties: Mapping[str, object]) -> Appliance | None:
    """The appliance the properties describe, or None when they do not name one."""
    text = {name: readable(value) for name, value in properties.items() if isinstance(value, str)}
    if not text.get("APPLIANCE_ID") or not text.get("APPLIANCE_IMAGE_LIST_ID"):
        return None
    image = None
    if _IMAGE_FACTS & text.keys():
        image = ImageFacts(
            uri=text.get("APPLIANCE_IMAGE_URI", ""),
            checksum=text.get("APPLIANCE_IMAGE_CHECKSUM", ""),
            size=_number(text.get(_IMAGE_SIZE)),
            format=_format(text.get(_IMAGE_FORMAT)),
            digest=text.get("APPLIANCE_IMAGE_DIGEST", ""),
        )
    fields: dict[str, Any] = {attr: text.get(name, "") for name, attr in _TEXT.items()}
    fields.update({attr: _number(text.get(name)) for name, attr in _NUMBERS.items()})
    return Appliance(**fields, image=image)


def appliance_filter(identifier: str) -> tuple[str, str]:
    """The property and value that find an appliance's images: the identifier as stored."""
    return "APPLIANCE_ID", storable(identifier)


def status_of(properties: Mapping[str, object]) -> ApplianceStatus | None:
    """Our lifecycle mark; None while the image is being created (or the mark is unknown)."""
    value = properties.get(STATUS)
    return ApplianceStatus(value) if value in ("ACTIVE", "EOL") else None


def retired_at_of(properties: Mapping[str, object]) -> int | None:
    """When the image was retired, if it was."""
    value = properties.get(RETIRED_AT)
    return int(value) if isinstance(value, str) and _DECIMAL.fullmatch(value) else None


def creation_properties(fields: ImageFields) -> dict[str, str]:
    """The properties of a new image: the appliance's, and the creation stamp."""
    return {**fields.properties, CREATED_NS: str(time.time_ns())}


def created_ns_of(properties: Mapping[str, object]) -> int:
    value = properties.get(CREATED_NS)
    return int(value) if isinstance(value, str) and _DECIMAL.fullmatch(value) else 0


def stale_properties(current: Mapping[str, object], fields: ImageFields) -> list[str]:
    """The managed properties an update must remove because encode() no longer writes them."""
    return sorted(name for name in current if name in MANAGED_PROPERTIES and name not in fields.properties)


def min_ram_mib(ram: int, unit: RamUnit = RamUnit.AUTO) -> int:
    """Glance's min_ram (MiB, rounded up) for an image list's ram value."""
    if unit is RamUnit.MIB or (unit is RamUnit.AUTO and ram < _MIB):
        return ram
    return math.ceil(ram / _MIB)


def _decimal(number: int) -> str:
    return str(number) if number else ""


def _number(value: str | None) -> int:
    # Absent (or not a plain decimal, e.g. edited by hand) reads as the wire default 0.
    return int(value) if value is not None and _DECIMAL.fullmatch(value) else 0


def _format(value: str | None) -> ImageFormat:
    # Absent or unknown reads as the wire default RAW, as an unset enum field would.
    return ImageFormat.__members__.get((value or "").upper(), ImageFormat.RAW)

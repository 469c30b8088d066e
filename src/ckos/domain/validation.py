"""Checks on requests before anything is touched: bad input changes nothing."""

from __future__ import annotations

from attrs import asdict

from ckos.domain import checksum
from ckos.domain.errors import InvalidRequest
from ckos.domain.model import Appliance, ImageSource

_MAX_TEXT = 65535


def _name(appliance: Appliance) -> str:
    return f"appliance {appliance.identifier!r}" if appliance.identifier else "appliance"


def _require(appliance: Appliance, *fields: str) -> None:
    missing = [f for f in fields if not getattr(appliance, f)]
    if missing:
        raise InvalidRequest(f"{_name(appliance)}: missing {', '.join(missing)}")


def _check_values(appliance: Appliance) -> None:
    for name in ("ram", "core", "expiration_date"):
        if getattr(appliance, name) < 0:
            raise InvalidRequest(f"{_name(appliance)}: {name} must not be negative")
    for name, value in text_fields(appliance).items():
        if "\x00" in value or len(value) > _MAX_TEXT:
            raise InvalidRequest(f"{_name(appliance)}: {name} is not acceptable text")


def text_fields(appliance: Appliance) -> dict[str, str]:
    """The appliance's text fields (its image's included), by name."""
    texts = {k: v for k, v in asdict(appliance, recurse=False).items() if isinstance(v, str)}
    if appliance.image is not None:
        image = asdict(appliance.image, recurse=False)
        texts.update({f"image.{k}": v for k, v in image.items() if isinstance(v, str)})
    return texts


def check_registration(appliance: Appliance, source: ImageSource | None) -> ImageSource:
    """Add and Update need the full appliance with its image; returns the source to read."""
    _require(appliance, "identifier", "image_list_identifier", "vo", "mpuri")
    _check_values(appliance)
    image = appliance.image
    if image is None or source is None:
        raise InvalidRequest(f"{_name(appliance)}: no image given")
    if checksum.algorithm(image.checksum) is None:
        raise InvalidRequest(f"{_name(appliance)}: image.checksum must be a SHA-512 in hex")
    if not image.uri:
        raise InvalidRequest(f"{_name(appliance)}: missing image.uri")
    if image.size < 0:
        raise InvalidRequest(f"{_name(appliance)}: image.size must not be negative")
    if not source.location or "\x00" in source.location:
        raise InvalidRequest(f"{_name(appliance)}: missing image.location")
    return source


def check_metadata(appliance: Appliance) -> None:
    _require(appliance, "identifier", "image_list_identifier", "vo", "mpuri")
    _check_values(appliance)


def check_removal(appliance: Appliance) -> None:
    _require(appliance, "identifier", "vo")


def check_list_identifier(image_list_identifier: str) -> None:
    if not image_list_identifier:
        raise InvalidRequest("missing image_list_identifier")

"""Wire <-> domain: the only module that sees both betterproto2 messages and domain objects."""

from __future__ import annotations

import enum
from typing import TypeVar

from ckos.domain.errors import InvalidRequest
from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb

E = TypeVar("E", bound=enum.Enum)

INT32 = range(-(2**31), 2**31)
INT64 = range(-(2**63), 2**63)


def appliance_from_wire(message: pb.Appliance) -> tuple[Appliance, ImageSource | None]:
    """The appliance and, when field 17 is present, where to read its image during this call.

    Presence is the presence of the image sub-message, never its mode: LOCAL is 0, the
    proto3 default, so an image offered from the local disk has no mode on the wire at all.
    """
    facts, source = (None, None) if message.image is None else _image_from_wire(message)
    appliance = Appliance(
        identifier=message.identifier,
        image_list_identifier=message.image_list_identifier,
        vo=message.vo,
        mpuri=message.mpuri,
        title=message.title,
        description=message.description,
        group=message.group,
        ram=message.ram,
        core=message.core,
        version=message.version,
        architecture=message.architecture,
        operating_system=message.operating_system,
        expiration_date=message.expiration_date,
        base_mpuri=message.base_mpuri,
        appid=message.appid,
        digest=message.digest,
        image=facts,
    )
    return appliance, source


def _image_from_wire(message: pb.Appliance) -> tuple[ImageFacts, ImageSource]:
    image = message.image
    assert image is not None
    facts = ImageFacts(
        uri=image.uri,
        # The core sends hex digests; the catalog and our checks compare lower-case.
        checksum=image.checksum.lower(),
        size=image.size,
        format=_by_name(ImageFormat, image.format, message.identifier, "image.format"),
        digest=image.digest,
    )
    source = ImageSource(
        mode=_by_name(TransferMode, image.mode, message.identifier, "image.mode"),
        location=image.location,
        username=image.username,
        password=image.password,
    )
    return facts, source


def _by_name(domain: type[E], value: object, identifier: str, field: str) -> E:
    # betterproto2 keeps an unknown enum number as a nameless member (or a bare int):
    # a value newer than this backend is a bad request, not a crash.
    name = getattr(value, "name", None)
    if isinstance(name, str) and name in domain.__members__:
        return domain[name]
    number = int(value) if isinstance(value, int) else value
    raise InvalidRequest(f"appliance {identifier!r}: unknown {field} value {number!r}")


def appliance_to_wire(appliance: Appliance) -> pb.Appliance:
    """The appliance as stored, for the Appliances stream; the core passes it back verbatim."""
    _check_ranges(appliance)
    facts = appliance.image
    image = None
    if facts is not None:
        # Only the stored facts: where the file was read from, and with which credentials,
        # belongs to one past call and is never stored nor echoed.
        image = pb.Image(
            uri=facts.uri,
            checksum=facts.checksum,
            size=facts.size,
            format=pb.ImageFormat[facts.format.name],
            digest=facts.digest,
        )
    return pb.Appliance(
        identifier=appliance.identifier,
        title=appliance.title,
        description=appliance.description,
        mpuri=appliance.mpuri,
        group=appliance.group,
        ram=appliance.ram,
        core=appliance.core,
        version=appliance.version,
        architecture=appliance.architecture,
        operating_system=appliance.operating_system,
        vo=appliance.vo,
        expiration_date=appliance.expiration_date,
        image_list_identifier=appliance.image_list_identifier,
        base_mpuri=appliance.base_mpuri,
        appid=appliance.appid,
        digest=appliance.digest,
        image=image,
    )


def _check_ranges(appliance: Appliance) -> None:
    # betterproto2 silently wraps an int32 out of range and fails late on an int64: catch both
    # before the first item of a stream is sent, so a bad stored value fails the whole call.
    numbers = [("core", appliance.core, INT32), ("ram", appliance.ram, INT64)]
    numbers.append(("expiration_date", appliance.expiration_date, INT64))
    if appliance.image is not None:
        numbers.append(("image.size", appliance.image.size, INT64))
    for name, value, allowed in numbers:
        if value not in allowed:
            raise ValueError(f"appliance {appliance.identifier!r}: {name} {value} does not fit the wire")

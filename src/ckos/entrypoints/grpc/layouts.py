"""The older and newer wire layouts, translated to and from the core 2.0 messages.

The three layouts share their field names and differ in numbers and in a few fields, so a
request of another layout becomes a core 2.0 message and `wire.py` stays the only module that
maps messages to the domain. The core 1.x has no digests: it decides updates by comparing the
`attributes` map, which is stored as the appliance's (opaque, echoed) digest, as JSON.
"""

from __future__ import annotations

import dataclasses
import json

from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as core20
from ckos.entrypoints.grpc._generated_core1 import cloudkeeper_grpc as core1
from ckos.entrypoints.grpc._generated_proto2019 import cloudkeeper_grpc as proto2019

# Appliance fields every layout has, under the same names.
_COMMON = (
    "identifier",
    "title",
    "description",
    "mpuri",
    "group",
    "ram",
    "core",
    "version",
    "architecture",
    "operating_system",
    "vo",
    "expiration_date",
    "image_list_identifier",
)
_LATER = ("base_mpuri", "appid", "digest")  # core 2.0 and the 2019 file only


def from_core1(message: core1.Appliance) -> core20.Appliance:
    attributes = dict(message.attributes)
    image = None if message.image is None else core20.Image.parse(bytes(message.image))
    return core20.Appliance(
        **{name: getattr(message, name) for name in _COMMON},
        base_mpuri=attributes.get("ad:base_mpuri", ""),
        appid=attributes.get("ad:appid", ""),
        digest=json.dumps(attributes, sort_keys=True, separators=(",", ":")) if attributes else "",
        image=image,
    )


def to_core1(message: core20.Appliance) -> core1.Appliance:
    image = None
    if message.image is not None:
        # Image fields 1..8 are numbered alike; the core 1.x Image has no 9 (digest) nor 10.
        bare = dataclasses.replace(message.image, digest="", container_format=core20.ImageFormat.RAW)
        image = core1.Image.parse(bytes(bare))
    return core1.Appliance(
        **{name: getattr(message, name) for name in _COMMON},
        attributes=_attributes(message.digest),
        image=image,
    )


def from_proto2019(message: proto2019.Appliance) -> core20.Appliance:
    image = None if message.image is None else core20.Image.parse(bytes(message.image))
    return core20.Appliance(**{name: getattr(message, name) for name in (*_COMMON, *_LATER)}, image=image)


def to_proto2019(message: core20.Appliance) -> proto2019.Appliance:
    image = None if message.image is None else proto2019.Image.parse(bytes(message.image))
    return proto2019.Appliance(**{name: getattr(message, name) for name in (*_COMMON, *_LATER)}, image=image)


def _attributes(digest: str) -> dict[str, str]:
    """The core 1.x attributes stored as the digest; none for an appliance stored by core 2.0."""
    try:
        value = json.loads(digest) if digest else {}
    except ValueError:
        return {}
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return value
    return {}

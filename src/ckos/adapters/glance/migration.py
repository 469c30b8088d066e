"""Adopting the images the earlier cloudkeeper-os left: explicit, dry run first (glance-contract §1).

The core 1.x decides an update by comparing the whole `attributes` map it would send with the
one `Appliances` returns, and the daemon under `protocol = "core-1"` returns the map it stored
as the appliance's digest. So adoption stores, as that digest, the map exactly as the earlier
tool recorded it: one byte of difference and the core's next run downloads, converts and sends
the image again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from attrs import evolve, frozen

from ckos.adapters.glance.ecosystem import ATTRIBUTES
from ckos.adapters.glance.errors import translated
from ckos.adapters.glance.escapes import json_storable
from ckos.adapters.glance.properties import STATUS, decode, encode
from ckos.adapters.glance.record import glance_properties
from ckos.adapters.glance.sessions import ProjectClients
from ckos.domain.model import ImageFormat, ProjectRef

_SNAPSHOT_MARKS = ("instance_uuid", "base_image_ref")
# The fork's head (from eb1b7ff) wrote each key of the map as its own property and read the map
# back from the properties with these prefixes. ckos writes `ad:appid` too, but only on images
# that are already ours, and those are never adopted.
_HEPIX_PREFIXES = ("ad:", "dc:", "hv:", "sl:")
_VALUE_LIMIT = 65535  # bytes Glance stores in one property on MySQL
# What the core-1 layout reads the map from, and what it stores (ckos.entrypoints.grpc.layouts).
_DIGEST = "APPLIANCE_DIGEST"
_FROM_MAP = {
    "APPLIANCE_IMAGE_URI": "hv:uri",
    "APPLIANCE_BASE_MPURI": "ad:base_mpuri",
    "APPLIANCE_APPID": "ad:appid",
}


@frozen
class Adoption:
    """One image to adopt: our tag, and the properties it lacks that can be derived."""

    project: ProjectRef
    image_id: str
    name: str
    added: Mapping[str, str]
    notes: tuple[str, ...] = ()  # what could not be carried over, and what follows from it


class GlanceMigration:
    def __init__(self, clients: ProjectClients, *, tag: str) -> None:
        self._clients = clients
        self._tag = tag

    def plan(self, project: ProjectRef) -> list[Adoption]:
        """The earlier implementation's images in the project; user snapshots never qualify."""
        client = self._clients.client(project)
        adoptions: list[Adoption] = []
        for hidden in (False, True):
            filters = {"owner": client.project_id, "os_hidden": hidden}
            with translated(f"listing the images of project {project}"):
                images = list(client.glance.images.list(filters=filters, page_size=200))
            for image in images:
                if self._adoptable(image):
                    adoptions.append(_adoption(project, image))
        return adoptions

    def apply(self, adoption: Adoption) -> None:
        client = self._clients.client(adoption.project)
        with translated(f"adopting image {adoption.image_id}"):
            if adoption.added:
                client.glance.images.update(adoption.image_id, **adoption.added)
            client.glance.image_tags.update(adoption.image_id, self._tag)

    def _adoptable(self, image: Mapping[str, Any]) -> bool:
        return (
            self._tag not in (image.get("tags") or [])
            and bool(image.get("APPLIANCE_IMAGE_LIST_ID"))
            and bool(image.get("APPLIANCE_ID"))
            and image.get("image_type") != "snapshot"
            and not any(image.get(mark) for mark in _SNAPSHOT_MARKS)
        )


class UnreadableAttributes(ValueError):
    """The earlier tool's APPLIANCE_ATTRIBUTES is not a JSON object of strings."""


def earlier_attributes(properties: Mapping[str, str]) -> dict[str, str]:
    """The core 1.x `attributes` map as the earlier cloudkeeper-os recorded it.

    Up to 0.9.9 it is the Python 2 JSON of APPLIANCE_ATTRIBUTES; the fork's head stored every
    key as its own property instead (values as stored, empty ones included).
    """
    recorded = properties.get(ATTRIBUTES)
    if recorded is None:
        return {key: value for key, value in properties.items() if key.startswith(_HEPIX_PREFIXES)}
    try:
        value = json.loads(recorded)
    except ValueError as error:
        raise UnreadableAttributes(f"{ATTRIBUTES} is not JSON ({error})") from None
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise UnreadableAttributes(f"{ATTRIBUTES} is not a JSON object of strings")
    return value


def core1_digest(attributes: Mapping[str, str]) -> str:
    """The map as the core-1 layout stores it as the appliance's digest: compact, sorted JSON."""
    return json.dumps(attributes, sort_keys=True, separators=(",", ":"))


def _adoption(project: ProjectRef, image: Mapping[str, Any]) -> Adoption:
    current = glance_properties(image)
    derived = dict(current)
    notes: list[str] = []
    attributes = _carried_attributes(current, derived, notes)
    if "APPLIANCE_IMAGE_CHECKSUM" not in derived and image.get("os_hash_algo") == "sha512":
        derived["APPLIANCE_IMAGE_CHECKSUM"] = str(image["os_hash_value"])
    if "APPLIANCE_IMAGE_SIZE" not in derived and image.get("size"):
        derived["APPLIANCE_IMAGE_SIZE"] = str(image["size"])
    if "APPLIANCE_IMAGE_FORMAT" not in derived:
        derived["APPLIANCE_IMAGE_FORMAT"] = _format_of(image)
    appliance = decode(derived)
    assert appliance is not None  # adoptable images name an appliance and a list
    # The core needs a non-empty image.uri; the list's hv:uri is the one, the marketplace
    # URI only a last resort for an image whose map did not keep it.
    if appliance.image is not None and not appliance.image.uri:
        appliance = evolve(appliance, image=evolve(appliance.image, uri=appliance.mpuri))
    wanted = {**encode(appliance).properties, **derived}
    if attributes and ATTRIBUTES not in current:
        # The fork's head kept the map only as separate keys: the ecosystem reads it whole here,
        # as on the sites that ran 0.9.9.
        whole = json_storable(json.dumps(attributes, ensure_ascii=False, sort_keys=True))
        if len(whole.encode()) <= _VALUE_LIMIT:
            wanted[ATTRIBUTES] = whole
    wanted.setdefault(STATUS, "EOL" if image.get("os_hidden") else "ACTIVE")
    added = {key: value for key, value in wanted.items() if key not in current}
    name = str(image.get("name") or "")
    return Adoption(project=project, image_id=str(image["id"]), name=name, added=added, notes=tuple(notes))


def _carried_attributes(
    current: Mapping[str, str], derived: dict[str, str], notes: list[str]
) -> dict[str, str]:
    """The earlier map, stored into derived as the digest (and the facts it gives) when it can be."""
    try:
        attributes = earlier_attributes(current)
    except UnreadableAttributes as error:
        if _DIGEST not in current:
            notes.append(f"{error}: {_DIGEST} left unset, so the core 1.x will send this appliance again")
        return {}
    for name, key in _FROM_MAP.items():
        if name not in derived and attributes.get(key):
            derived[name] = attributes[key]
    if _DIGEST in current:
        return attributes
    if not attributes:
        notes.append(f"no core 1.x attributes recorded: {_DIGEST} left unset")
        return attributes
    digest = core1_digest(attributes)
    if len(digest.encode()) > _VALUE_LIMIT:
        notes.append(f"the attributes take more than {_VALUE_LIMIT} bytes: {_DIGEST} left unset")
    else:
        derived[_DIGEST] = digest
    return attributes


def _format_of(image: Mapping[str, Any]) -> str:
    if image.get("container_format") == "ova":
        return ImageFormat.OVA.name
    disk = str(image.get("disk_format") or "raw").upper()
    return disk if disk in ImageFormat.__members__ else ImageFormat.RAW.name

"""Adopting the images the earlier cloudkeeper-os left: explicit, dry run first (glance-contract §1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import evolve, frozen

from ckos.adapters.glance.errors import translated
from ckos.adapters.glance.properties import STATUS, decode, encode
from ckos.adapters.glance.record import glance_properties
from ckos.adapters.glance.sessions import ProjectClients
from ckos.domain.model import ImageFormat, ProjectRef

_SNAPSHOT_MARKS = ("instance_uuid", "base_image_ref")


@frozen
class Adoption:
    """One image to adopt: our tag, and the properties it lacks that can be derived."""

    project: ProjectRef
    image_id: str
    name: str
    added: Mapping[str, str]


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


def _adoption(project: ProjectRef, image: Mapping[str, Any]) -> Adoption:
    current = glance_properties(image)
    derived = dict(current)
    if "APPLIANCE_IMAGE_CHECKSUM" not in derived and image.get("os_hash_algo") == "sha512":
        derived["APPLIANCE_IMAGE_CHECKSUM"] = str(image["os_hash_value"])
    if "APPLIANCE_IMAGE_SIZE" not in derived and image.get("size"):
        derived["APPLIANCE_IMAGE_SIZE"] = str(image["size"])
    if "APPLIANCE_IMAGE_FORMAT" not in derived:
        derived["APPLIANCE_IMAGE_FORMAT"] = _format_of(image)
    appliance = decode(derived)
    assert appliance is not None  # adoptable images name an appliance and a list
    # The core needs a non-empty image.uri; the earlier implementation did not always keep one.
    if appliance.image is not None and not appliance.image.uri:
        appliance = evolve(appliance, image=evolve(appliance.image, uri=appliance.mpuri))
    wanted = {**encode(appliance).properties, **derived}
    wanted.setdefault(STATUS, "EOL" if image.get("os_hidden") else "ACTIVE")
    added = {key: value for key, value in wanted.items() if key not in current}
    name = str(image.get("name") or "")
    return Adoption(project=project, image_id=str(image["id"]), name=name, added=added)


def _format_of(image: Mapping[str, Any]) -> str:
    if image.get("container_format") == "ova":
        return ImageFormat.OVA.name
    disk = str(image.get("disk_format") or "raw").upper()
    return disk if disk in ImageFormat.__members__ else ImageFormat.RAW.name

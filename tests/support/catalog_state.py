"""What a site's catalog holds, read by the tests on their own: the fake's records, or real Glance.

The Glance reading goes through an admin glanceclient and this module's own reading of the API's
image records, never through ckos's Glance adapter, so that a mistake there cannot hide itself.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from ckos.adapters.glance.record import ImageRecord
from ckos.adapters.memory_catalog import MemoryCatalog


class CatalogState(Protocol):
    def records(self) -> list[ImageRecord]:
        """Every image the site's projects hold (ours or not), and any image with the site's tag."""
        ...

    def data(self, image_id: str) -> bytes:
        """The stored bytes of an image."""
        ...

    def snapshot(self) -> object:
        """Everything the catalog holds, down to the last attribute, for before/after equality."""
        ...


class MemoryState(CatalogState):
    def __init__(self, catalog: MemoryCatalog) -> None:
        self._catalog = catalog

    def records(self) -> list[ImageRecord]:
        return self._catalog.records()

    def data(self, image_id: str) -> bytes:
        return self._catalog.data(image_id)

    def snapshot(self) -> object:
        records = copy.deepcopy(self._catalog.records())
        return records, {record.id: self._catalog.data(record.id) for record in records}


# The attributes of a Glance v2 image that are not free-form properties (Glance's image schema).
GLANCE_ATTRIBUTES = frozenset([
    "id", "name", "owner", "status", "visibility", "os_hidden", "protected", "tags", "disk_format",
    "container_format", "min_ram", "min_disk", "size", "virtual_size", "checksum", "os_hash_algo",
    "os_hash_value", "created_at", "updated_at", "file", "schema", "direct_url", "locations", "stores",
    "self",
])  # fmt: skip


def record_of(image: dict[str, Any]) -> ImageRecord:
    """An image as Glance's API shows it, as a record; every property of a Glance image is a string."""
    properties = {key: value for key, value in image.items() if key not in GLANCE_ATTRIBUTES}
    assert all(isinstance(value, str) for value in properties.values()), properties
    return ImageRecord(
        id=image["id"],
        owner=image["owner"],
        name=image["name"] or "",
        disk_format=image["disk_format"],
        container_format=image["container_format"],
        min_ram=image["min_ram"],
        visibility=image["visibility"],
        os_hidden=image["os_hidden"],
        status=image["status"],
        created_at=int(_unix(image["created_at"])),
        tags=frozenset(image["tags"]),
        properties=properties,
        size=image["size"],
        checksum=image["checksum"],
        os_hash_algo=image["os_hash_algo"],
        os_hash_value=image["os_hash_value"],
    )


def _unix(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


class GlanceState(CatalogState):
    """Real Glance seen by an admin: the images of `owners`, and every image tagged `tag`."""

    def __init__(self, admin_images: Any, *, owners: Collection[str], tag: str) -> None:
        self._images = admin_images  # glanceclient's v2 images controller (untyped)
        self._owners = tuple(owners)
        self._tag = tag

    def raw(self) -> list[dict[str, Any]]:
        """The API's image records, every attribute of them, sorted by creation and id."""
        found: dict[str, dict[str, Any]] = {}
        for filters in self._selections():
            for hidden in (False, True):  # Glance leaves hidden images out unless asked for them
                for image in self._images.list(filters={**filters, "os_hidden": hidden}):
                    found[image["id"]] = dict(image)
        return sorted(found.values(), key=lambda image: (image["created_at"], image["id"]))

    def records(self) -> list[ImageRecord]:
        return [record_of(image) for image in self.raw()]

    def data(self, image_id: str) -> bytes:
        image = self._images.get(image_id)
        content = b"".join(self._images.data(image_id) or [])
        # Glance's own hash of what it stored must be the hash of what it serves.
        if image["status"] == "active":
            assert image["os_hash_algo"] == "sha512"
            assert image["os_hash_value"] == hashlib.sha512(content).hexdigest()
        return content

    def snapshot(self) -> object:
        images = self.raw()
        # Glance's updated_at counts whole seconds: once the second of the last write is over,
        # any later write shows in the next snapshot, even one that changes nothing else.
        last_write = max((_unix(image["updated_at"]) for image in images), default=0)
        time.sleep(max(0.0, last_write + 1.05 - time.time()))
        return images

    def delete_tagged(self) -> list[str]:
        """Delete every image carrying the tag, in any project; returns their ids."""
        tagged = [image["id"] for image in self._tagged()]  # all of them before deleting any
        for image_id in tagged:
            self._images.delete(image_id)
        leftovers = [image["id"] for image in self._tagged()]
        assert leftovers == [], f"images tagged {self._tag} survived their deletion: {leftovers}"
        return tagged

    def _tagged(self) -> Iterator[dict[str, Any]]:
        for hidden in (False, True):
            for image in self._images.list(filters={"tag": [self._tag], "os_hidden": hidden}):
                yield dict(image)

    def _selections(self) -> list[dict[str, Any]]:
        return [{"tag": [self._tag]}, *({"owner": owner} for owner in self._owners)]


def ours(records: Iterable[ImageRecord], tag: str, status: str) -> dict[str, list[ImageRecord]]:
    """The records carrying `tag` with this APPLIANCE_STATUS, by appliance identifier."""
    found: dict[str, list[ImageRecord]] = {}
    for record in records:
        if tag in record.tags and record.properties.get("APPLIANCE_STATUS") == status:
            found.setdefault(record.properties["APPLIANCE_ID"], []).append(record)
    return found


def one_live_each(records: Iterable[ImageRecord], tag: str) -> dict[str, ImageRecord]:
    """The single live image of each appliance (fails if an appliance has several)."""
    live = ours(records, tag, "ACTIVE")
    assert all(len(images) == 1 for images in live.values()), live
    return {identifier: images[0] for identifier, images in live.items()}

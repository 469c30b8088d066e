"""The sync's plan: a source's snapshot against what the catalog holds, compared as the core does.

Pure: the same snapshot and the same stored appliances give the same plan. An appliance is
compared by identifier, then by image digest (new bytes: update the image), then by appliance
digest and expiry (new metadata: rewrite it in place). Removals come only from a complete
snapshot; an expired list adds and updates nothing, and offers its stored appliances for
retirement, as the core does with RemoveImageList.

An appliance stored in the core 1.x era has no core 2.0 digests: its image digest is empty and
its digest is the 1.x attributes map (the list entry, as JSON). It is judged as core 1.7.1 did,
by hv:version, sl:checksum:sha512 and hv:size (sync-sources.md §3.4): the same image is only a
metadata update, which back-fills the digests, never a second upload of the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from attrs import frozen

from ckos.domain.model import Appliance
from ckos.domain.snapshot import Offer, Snapshot


@frozen
class Plan:
    source: str
    add: tuple[Offer, ...] = ()
    update_image: tuple[Offer, ...] = ()
    update_metadata: tuple[Offer, ...] = ()
    retire: tuple[Appliance, ...] = ()  # stored appliances the source no longer offers (or expired)
    unchanged: tuple[str, ...] = ()  # identifiers

    @property
    def changes(self) -> int:
        return len(self.add) + len(self.update_image) + len(self.update_metadata) + len(self.retire)


def plan(snapshot: Snapshot, stored: Iterable[Appliance], *, complete: bool, now: int) -> Plan:
    """What to do so that the catalog holds exactly the snapshot's live appliances.

    `stored` are the live appliances of the snapshot's image list. An incomplete snapshot
    yields no removal: a missing appliance may only be one that could not be read.
    """
    current = {appliance.identifier: appliance for appliance in stored}
    offered = {offer.appliance.identifier: offer for offer in snapshot.offers}
    add: list[Offer] = []
    update_image: list[Offer] = []
    update_metadata: list[Offer] = []
    retire: list[Appliance] = []
    unchanged: list[str] = []
    for identifier, offer in offered.items():
        appliance = offer.appliance
        known = current.get(identifier)
        if snapshot.expired or appliance.expired(now):
            if known is not None and complete:
                retire.append(known)
            continue
        if known is None:
            add.append(offer)
        elif not _same_image(known, appliance):
            update_image.append(offer)
        elif known.digest != appliance.digest or known.expiration_date != appliance.expiration_date:
            update_metadata.append(offer)
        else:
            unchanged.append(identifier)
    if complete:
        retire.extend(appliance for identifier, appliance in current.items() if identifier not in offered)
    return Plan(
        source=snapshot.source,
        add=tuple(add),
        update_image=tuple(update_image),
        update_metadata=tuple(update_metadata),
        retire=tuple(sorted(retire, key=lambda appliance: appliance.identifier)),
        unchanged=tuple(unchanged),
    )


def _image_digest(appliance: Appliance) -> str:
    return appliance.image.digest if appliance.image is not None else ""


def _same_image(known: Appliance, offered: Appliance) -> bool:
    """Whether the stored appliance's image is the offered one: by digest, or as core 1.7.1 judged."""
    attributes = core1_attributes(known.digest)
    if _image_digest(known) and attributes is None:
        return _image_digest(known) == _image_digest(offered)
    image = offered.image
    if image is None:
        return known.image is None
    if attributes is not None:  # what core 1.x stored: the list entry, as the list wrote it
        return (
            attributes.get("hv:version", "") == offered.version
            and attributes.get("sl:checksum:sha512", "").lower() == image.checksum
            and _decimal(attributes.get("hv:size", "")) == image.size
        )
    if known.digest and known.digest == offered.digest:
        # Back-filled by an earlier sync whose metadata update kept the stored image facts (and
        # their empty image digest): that sync judged the image, and hv:version is in the digest.
        return True
    return (
        known.version == offered.version
        and known.image is not None
        and known.image.checksum == image.checksum
        and known.image.size == image.size
    )


def core1_attributes(digest: str) -> Mapping[str, str] | None:
    """The core 1.x attributes map the daemon stored as the appliance's digest, if it is one."""
    if not digest.startswith("{"):
        return None
    try:
        value = json.loads(digest)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return {key: item for key, item in value.items() if isinstance(item, str)}


def _decimal(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None

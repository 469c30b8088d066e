"""The sync's plan: a source's snapshot against what the catalog holds, compared as the core does.

Pure: the same snapshot and the same stored appliances give the same plan. An appliance is
compared by identifier, then by image digest (new bytes: update the image), then by appliance
digest and expiry (new metadata: rewrite it in place). Removals come only from a complete
snapshot; an expired list adds and updates nothing, and offers its stored appliances for
retirement, as the core does with RemoveImageList.
"""

from __future__ import annotations

from collections.abc import Iterable

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
        elif _image_digest(known) != _image_digest(appliance):
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

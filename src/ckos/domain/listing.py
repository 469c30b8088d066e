"""ImageLists and Appliances: what the core compares its image list with."""

from __future__ import annotations

from ckos.domain.context import Context
from ckos.domain.inventory import all_images, newest_first
from ckos.domain.model import Appliance
from ckos.domain.validation import check_list_identifier


def image_lists(ctx: Context) -> list[str]:
    """The distinct list identifiers of every live appliance, across all mapped projects."""
    return sorted({image.appliance.image_list_identifier for image in all_images(ctx) if image.live})


def appliances(ctx: Context, image_list_identifier: str) -> list[Appliance]:
    """One entry per live appliance of the list, as stored (the newest image if several)."""
    check_list_identifier(image_list_identifier)
    chosen: dict[str, Appliance] = {}
    for image in newest_first(all_images(ctx)):
        appliance = image.appliance
        if image.live and appliance.image_list_identifier == image_list_identifier:
            chosen.setdefault(appliance.identifier, appliance)
    return sorted(chosen.values(), key=lambda appliance: appliance.identifier)

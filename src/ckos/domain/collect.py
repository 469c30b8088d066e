"""Collection: delete retired images no longer in use, and unfinished leftovers of ours."""

from __future__ import annotations

import logging

from attrs import frozen

from ckos.domain.context import Context
from ckos.domain.errors import ImageInUse
from ckos.domain.inventory import all_images
from ckos.domain.model import UNFINISHED_STATES, ApplianceStatus, ImageState, ManagedImage

log = logging.getLogger(__name__)


@frozen
class Collection:
    deleted: list[str]
    kept_in_use: list[str]


def collect(ctx: Context) -> Collection:
    """Delete what is due; images the catalog reports in use are kept for a later run."""
    now = ctx.clock.now()
    deleted: list[str] = []
    kept: list[str] = []
    for image in all_images(ctx):
        if not _due(ctx, image, now):
            continue
        try:
            ctx.catalog.delete_image(image.project, image.image_id)
        except ImageInUse:
            log.info("image %s of appliance %s is in use: kept", image.image_id, image.appliance.identifier)
            kept.append(image.image_id)
        else:
            deleted.append(image.image_id)
    return Collection(deleted=deleted, kept_in_use=kept)


def _due(ctx: Context, image: ManagedImage, now: int) -> bool:
    if image.status is ApplianceStatus.EOL:
        retired_at = image.retired_at if image.retired_at is not None else 0
        return now - retired_at >= ctx.policy.retire_grace
    if image.status is None and image.state in UNFINISHED_STATES and image.image_id not in ctx.in_flight:
        return image.state is ImageState.KILLED or now - image.created_at >= ctx.policy.stale_upload_after
    return False

"""Collection: delete retired images no longer in use, and unfinished leftovers of ours."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from ckos.domain.context import Context
from ckos.domain.errors import CatalogNotFound, ImageInUse
from ckos.domain.inventory import all_images
from ckos.domain.model import UNFINISHED_STATES, ApplianceStatus, ImageState, ManagedImage
from ckos.domain.outcome import Outcome

log = logging.getLogger(__name__)

CENSUS_STATES = ("live", "retired", "unfinished")


def collect(ctx: Context) -> Outcome:
    """Delete what is due; images the catalog reports in use are kept for a later run.

    An image already gone (another collection, in this process or another, got there first)
    is done: it is neither an error nor counted as deleted by this call. The outcome also counts
    what remains by lifecycle state: collection lists every image anyway, so the count costs
    nothing more.
    """
    now = ctx.clock.now()
    deleted: list[str] = []
    kept: list[str] = []
    gone: list[str] = []
    images = all_images(ctx)
    for image in images:
        if not _due(ctx, image, now):
            continue
        try:
            # A retired image stays retired; an unfinished one may have been finished since the
            # listing (by another process): it is decided again on what the catalog holds now.
            if image.status is None and not _due(
                ctx, ctx.catalog.get_image(image.project, image.image_id), now
            ):
                continue
            ctx.catalog.delete_image(image.project, image.image_id)
        except ImageInUse:
            log.info("image %s of appliance %s is in use: kept", image.image_id, image.appliance.identifier)
            kept.append(image.image_id)
        except CatalogNotFound:
            log.info("image %s was deleted meanwhile: done", image.image_id)
            gone.append(image.image_id)
        else:
            deleted.append(image.image_id)
    remaining = [image for image in images if image.image_id not in deleted and image.image_id not in gone]
    return Outcome(deleted=tuple(deleted), kept_in_use=tuple(kept), census=census(remaining))


def _now_as(ctx: Context, image: ManagedImage) -> ManagedImage:
    return ctx.catalog.get_image(image.project, image.image_id)


def census(images: Iterable[ManagedImage]) -> dict[str, int]:
    """How many images are live, retired, or not yet marked (being created, or left over)."""
    counts = Counter(lifecycle_state(image) for image in images)
    return {state: counts[state] for state in CENSUS_STATES}


def lifecycle_state(image: ManagedImage) -> str:
    """live, retired, or unfinished (being created, or left over)."""
    if image.status is ApplianceStatus.ACTIVE:
        return "live"
    return "retired" if image.status is ApplianceStatus.EOL else "unfinished"


def _due(ctx: Context, image: ManagedImage, now: int) -> bool:
    if image.status is ApplianceStatus.EOL:
        retired_at = image.retired_at if image.retired_at is not None else 0
        return now - retired_at >= ctx.policy.retire_grace
    if image.status is None and image.state in UNFINISHED_STATES and image.image_id not in ctx.in_flight:
        return image.state is ImageState.KILLED or now - image.created_at >= ctx.policy.stale_upload_after
    return False

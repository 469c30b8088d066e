"""RemoveAppliance, RemoveImageList and expiry: retire images, never delete them outright."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ckos.domain.context import Context
from ckos.domain.errors import CatalogNotFound
from ckos.domain.inventory import all_images, live_images_of
from ckos.domain.model import Appliance, ManagedImage, ProjectRef
from ckos.domain.outcome import Outcome
from ckos.domain.validation import check_list_identifier, check_removal

log = logging.getLogger(__name__)


def remove_appliance(ctx: Context, appliance: Appliance) -> Outcome:
    """Retire every live image of the appliance; an unknown appliance is already removed."""
    check_removal(appliance)
    project = ctx.directory.mapping().project_for(appliance.vo)
    with ctx.locks.hold(appliance.identifier):
        live = live_images_of(ctx, project, appliance.identifier)
        retired = tuple(image.image_id for image in live if retire_image(ctx, project, image.image_id))
    if not live:
        log.info("appliance %s has no live image: nothing to remove", appliance.identifier)
    return Outcome(project=project, retired=retired)


def retire_image(ctx: Context, project: ProjectRef, image_id: str) -> bool:
    """Retire the image; one deleted meanwhile (by another process) is already gone: False."""
    try:
        ctx.catalog.retire(project, image_id, ctx.clock.now())
    except CatalogNotFound:
        log.info("image %s was deleted meanwhile: nothing to retire", image_id)
        return False
    return True


def remove_image_list(ctx: Context, image_list_identifier: str) -> Outcome:
    """Retire every live appliance of the list, in every project; unknown lists are a no-op."""
    check_list_identifier(image_list_identifier)
    chosen = _retire_where(ctx, lambda image: image.appliance.image_list_identifier == image_list_identifier)
    return Outcome(retired=chosen)


def remove_expired(ctx: Context) -> tuple[str, ...]:
    """Retire every live appliance whose stored expiration date has passed."""
    now = ctx.clock.now()
    return _retire_where(ctx, lambda image: image.appliance.expired(now))


def _retire_where(ctx: Context, chosen: Callable[[ManagedImage], bool]) -> tuple[str, ...]:
    retired: list[str] = []
    for image in all_images(ctx):
        if not (image.live and chosen(image)):
            continue
        with ctx.locks.hold(image.appliance.identifier):
            # Decided again on the image as it is now: another call, here or in another process,
            # may have retired, deleted or renewed it since the listing.
            try:
                current = ctx.catalog.get_image(image.project, image.image_id)
            except CatalogNotFound:
                continue
            if current.live and chosen(current) and retire_image(ctx, image.project, image.image_id):
                retired.append(image.image_id)
    return tuple(retired)

"""RemoveAppliance, RemoveImageList and expiry: retire images, never delete them outright."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ckos.domain.context import Context
from ckos.domain.inventory import all_images, live_images_of
from ckos.domain.model import Appliance, ManagedImage
from ckos.domain.outcome import Outcome
from ckos.domain.validation import check_list_identifier, check_removal

log = logging.getLogger(__name__)


def remove_appliance(ctx: Context, appliance: Appliance) -> Outcome:
    """Retire every live image of the appliance; an unknown appliance is already removed."""
    check_removal(appliance)
    project = ctx.directory.mapping().project_for(appliance.vo)
    with ctx.locks.hold(appliance.identifier):
        live = live_images_of(ctx, project, appliance.identifier)
        now = ctx.clock.now()
        for image in live:
            ctx.catalog.retire(project, image.image_id, now)
    if not live:
        log.info("appliance %s has no live image: nothing to remove", appliance.identifier)
    return Outcome(project=project, retired=tuple(image.image_id for image in live))


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
            current = ctx.catalog.get_image(image.project, image.image_id)
            if current.live:  # an Add or Update may have retired it meanwhile
                ctx.catalog.retire(image.project, image.image_id, ctx.clock.now())
                retired.append(image.image_id)
    return tuple(retired)

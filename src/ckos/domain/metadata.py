"""UpdateApplianceMetadata: rewrite the live image's metadata in place, never its data."""

from __future__ import annotations

from attrs import evolve

from ckos.domain.context import Context
from ckos.domain.errors import ApplianceNotFound
from ckos.domain.inventory import live_images_of
from ckos.domain.model import Appliance, ImageFacts, ManagedImage
from ckos.domain.outcome import Outcome
from ckos.domain.validation import check_metadata


def update_metadata(ctx: Context, appliance: Appliance) -> Outcome:
    """Store the new metadata and digest, keeping the stored image facts (and image digest)."""
    check_metadata(appliance)
    project = ctx.directory.mapping().project_for(appliance.vo)
    with ctx.locks.hold(appliance.identifier):
        live = live_images_of(ctx, project, appliance.identifier)
        if not live:
            raise ApplianceNotFound(
                f"appliance {appliance.identifier!r} of VO {appliance.vo!r} has no live image"
            )
        target = live[0]
        ctx.catalog.update_metadata(
            project, target.image_id, evolve(appliance, image=_kept_facts(target, appliance))
        )
        return Outcome(project=project, image_id=target.image_id)


def _kept_facts(target: ManagedImage, appliance: Appliance) -> ImageFacts | None:
    """The stored image facts; an image digest missing from them (an image of the core 1.x era)
    is back-filled from the appliance's, so that the next comparison is by digests."""
    stored = target.appliance.image
    offered = appliance.image
    if stored is not None and not stored.digest and offered is not None and offered.digest:
        return evolve(stored, digest=offered.digest)
    return stored

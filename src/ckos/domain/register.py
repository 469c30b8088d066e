"""AddAppliance and UpdateAppliance: make the appliance's image live, create-then-retire."""

from __future__ import annotations

import logging
from contextlib import ExitStack

from ckos.domain.context import Context
from ckos.domain.errors import CatalogUnavailable, TransferMismatch
from ckos.domain.inventory import live_images_of
from ckos.domain.model import Appliance, ImageFacts, ImageSource, ImageState, ProjectRef
from ckos.domain.outcome import Outcome
from ckos.domain.transfer import VerifyingReader
from ckos.domain.validation import check_registration

log = logging.getLogger(__name__)


def register(ctx: Context, appliance: Appliance, source: ImageSource | None) -> Outcome:
    """Converge the catalog on this appliance and image; the outcome names the live image.

    If a live image already holds the same bytes only its metadata is rewritten (upsert).
    Otherwise a new image is created, filled and verified before the old ones are retired,
    so a failure leaves the old image live and its digests unchanged.
    """
    source = check_registration(appliance, source)
    assert appliance.image is not None  # checked above
    project = ctx.directory.mapping().project_for(appliance.vo)
    with ctx.locks.hold(appliance.identifier):
        live = live_images_of(ctx, project, appliance.identifier)
        same = [image for image in live if image.holds(appliance.image.checksum)]
        if same:
            kept_id = same[0].image_id
            ctx.catalog.update_metadata(project, kept_id, appliance)
            log.info("appliance %s: image %s already holds these bytes", appliance.identifier, kept_id)
        else:
            kept_id = _create_verified(ctx, project, appliance, appliance.image, source)
        now = ctx.clock.now()
        retired = tuple(old.image_id for old in live if old.image_id != kept_id)
        for image_id in retired:
            ctx.catalog.retire(project, image_id, now)
        return Outcome(project=project, image_id=kept_id, uploaded=not same, retired=retired)


def _create_verified(
    ctx: Context, project: ProjectRef, appliance: Appliance, facts: ImageFacts, source: ImageSource
) -> str:
    label = f"appliance {appliance.identifier}"
    # The source is opened first: one that may not or cannot be read (a path outside the allowed
    # directories, a host not allowed, a 401) is refused before the catalog is touched.
    with ExitStack() as source_open:
        stream = source_open.enter_context(ctx.image_data.open(source))
        image_id = ctx.catalog.create_image(project, appliance)
        with ctx.in_flight.track(image_id):
            try:
                reader = source_open.enter_context(VerifyingReader(stream, facts, label))
                ctx.catalog.upload(project, image_id, reader)
                source_open.close()  # read to its end: let go of the file or connection now
                reader.verify()
                _check_stored(ctx, project, image_id, facts, label)
                ctx.catalog.mark_active(project, image_id)
            except BaseException:
                _discard(ctx, project, image_id)
                raise
    return image_id


def _check_stored(ctx: Context, project: ProjectRef, image_id: str, facts: ImageFacts, label: str) -> None:
    stored = ctx.catalog.get_image(project, image_id)
    if stored.state is not ImageState.ACTIVE:
        raise CatalogUnavailable(
            f"{label}: image {image_id} is {stored.state.value} after upload, not active"
        )
    if stored.size is not None and stored.size != facts.size:
        raise TransferMismatch(f"{label}: the catalog stored {stored.size} bytes, expected {facts.size}")
    if stored.sha512 is not None and stored.sha512 != facts.checksum:
        raise TransferMismatch(
            f"{label}: the catalog's SHA-512 {stored.sha512} differs from the expected {facts.checksum}"
        )


def _discard(ctx: Context, project: ProjectRef, image_id: str) -> None:
    """Best effort: a failed delete leaves an unmarked image that collection removes later."""
    try:
        ctx.catalog.delete_image(project, image_id)
    except Exception:
        log.warning("could not delete unfinished image %s; collection will retry", image_id, exc_info=True)

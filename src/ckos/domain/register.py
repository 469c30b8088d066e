"""AddAppliance and UpdateAppliance: make the appliance's image live, create-then-retire."""

from __future__ import annotations

import logging
from contextlib import ExitStack

from ckos.domain.checksum import algorithm
from ckos.domain.context import Context
from ckos.domain.errors import CatalogUnavailable, TransferMismatch
from ckos.domain.inventory import live_images_of
from ckos.domain.model import Appliance, ImageFacts, ImageSource, ImageState, ProjectRef
from ckos.domain.outcome import Outcome
from ckos.domain.retire import retire_image
from ckos.domain.transfer import VerifyingReader
from ckos.domain.validation import check_registration

log = logging.getLogger(__name__)


def register(ctx: Context, appliance: Appliance, source: ImageSource | None) -> Outcome:
    """Converge the catalog on this appliance and image; the outcome names the live image.

    If the appliance's live image already holds the same bytes only its metadata is rewritten
    (upsert). Otherwise a new image is created, filled and verified before the old ones are
    retired, so a failure leaves the old image live and its digests unchanged.
    """
    source = check_registration(appliance, source)
    assert appliance.image is not None  # checked above
    project = ctx.directory.mapping().project_for(appliance.vo)
    with ctx.locks.hold(appliance.identifier):
        live = live_images_of(ctx, project, appliance.identifier)
        if live and live[0].holds(appliance.image.checksum):
            ctx.catalog.update_metadata(project, live[0].image_id, appliance)
            log.info(
                "appliance %s: image %s already holds these bytes", appliance.identifier, live[0].image_id
            )
            return _settle(ctx, project, appliance.identifier, uploaded=False)
        _create_verified(ctx, project, appliance, appliance.image, source)
        return _settle(ctx, project, appliance.identifier, uploaded=True)


def _settle(ctx: Context, project: ProjectRef, identifier: str, *, uploaded: bool) -> Outcome:
    """Keep the newest live image of the appliance and retire the others.

    The locks serialise the calls of one process only: another daemon or a sync run may have made
    an image of the same appliance live meanwhile. Every process keeps the newest, whatever it
    saw, and the last one to mark an image live sees every other: exactly one stays live.
    """
    live = live_images_of(ctx, project, identifier)
    retired = tuple(image.image_id for image in live[1:] if retire_image(ctx, project, image.image_id))
    return Outcome(
        project=project, image_id=live[0].image_id if live else "", uploaded=uploaded, retired=retired
    )


def _create_verified(
    ctx: Context, project: ProjectRef, appliance: Appliance, facts: ImageFacts, source: ImageSource
) -> None:
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


def _check_stored(ctx: Context, project: ProjectRef, image_id: str, facts: ImageFacts, label: str) -> None:
    stored = ctx.catalog.get_image(project, image_id)
    if stored.state is not ImageState.ACTIVE:
        raise CatalogUnavailable(
            f"{label}: image {image_id} is {stored.state.value} after upload, not active"
        )
    if stored.size is not None and stored.size != facts.size:
        raise TransferMismatch(f"{label}: the catalog stored {stored.size} bytes, expected {facts.size}")
    # The catalog computes SHA-512 (os_hash_value): comparable with a SHA-512 checksum only.
    if (
        stored.sha512 is not None
        and algorithm(facts.checksum) == "sha512"
        and stored.sha512 != facts.checksum
    ):
        raise TransferMismatch(
            f"{label}: the catalog's SHA-512 {stored.sha512} differs from the expected {facts.checksum}"
        )


def _discard(ctx: Context, project: ProjectRef, image_id: str) -> None:
    """Best effort: a failed delete leaves an unmarked image that collection removes later."""
    try:
        ctx.catalog.delete_image(project, image_id)
    except Exception:
        log.warning("could not delete unfinished image %s; collection will retry", image_id, exc_info=True)

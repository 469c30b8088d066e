"""Reading what the catalog holds, across every mapped project, all or nothing."""

from __future__ import annotations

from collections.abc import Iterable

from ckos.domain.context import Context
from ckos.domain.listings import SharedListings
from ckos.domain.model import ManagedImage, ProjectRef


def all_images(ctx: Context) -> list[ManagedImage]:
    """Every image of ours in every mapped project; any failing project fails the whole.

    Listings are shared between calls for a short while when the catalog allows (listings.py).
    """
    catalog = ctx.catalog
    images: list[ManagedImage] = []
    for project in ctx.directory.mapping().projects():
        if isinstance(catalog, SharedListings):
            images.extend(catalog.shared(project))
        else:
            images.extend(catalog.list_images(project))
    return images


def live_images_of(ctx: Context, project: ProjectRef, identifier: str) -> list[ManagedImage]:
    """The live images of one appliance in its project, newest first."""
    found = [
        image
        for image in ctx.catalog.list_images(project, appliance_id=identifier)
        if image.live and image.appliance.identifier == identifier
    ]
    return newest_first(found)


def newest_first(images: Iterable[ManagedImage]) -> list[ManagedImage]:
    return sorted(
        images, key=lambda image: (image.created_at, image.created_ns, image.image_id), reverse=True
    )

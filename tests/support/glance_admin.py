"""The devcloud's Glance seen by its admin: raw records, images made by others, and cleanup.

Tests look at and prepare Glance through this, never through the adapter they test.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import glanceclient
from glanceclient import exc

from ckos.adapters.glance.record import ImageRecord, from_glance
from ckos.adapters.glance.sessions import Credentials, ProjectClients
from support.devcloud import DevCloud

SNAPSHOT_BYTES = b"a user's snapshot"


def ckos_credentials(cloud: DevCloud, **changes: Any) -> Credentials:
    """The devcloud's ckos user as the Glance adapter's credentials."""
    values: dict[str, Any] = {
        "auth_url": cloud.keystone_url,
        "username": cloud.ckos.username,
        "password": cloud.ckos.password,
        "user_domain_name": cloud.ckos.user_domain_name,
        "region_name": cloud.region,
    }
    return Credentials(**{**values, **changes})


def ckos_clients(cloud: DevCloud) -> ProjectClients:
    return ProjectClients(ckos_credentials(cloud))


class GlanceAdmin:
    """glanceclient with the admin's session: sees and changes every project's images."""

    def __init__(self, cloud: DevCloud) -> None:
        self.cloud = cloud
        self.images: Any = glanceclient.Client(
            "2", session=cloud.admin_session(), region_name=cloud.region
        ).images

    def raw(self, image_id: str) -> dict[str, Any]:
        return dict(self.images.get(image_id))

    def record(self, image_id: str) -> ImageRecord:
        return from_glance(self.raw(image_id))

    def create(
        self,
        owner: str,
        properties: Mapping[str, str],
        *,
        tags: tuple[str, ...] = (),
        data: bytes | None = SNAPSHOT_BYTES,
        **fields: Any,
    ) -> str:
        """An image owned by the project of id `owner`, active with `data` unless it is None."""
        image = self.images.create(
            name=fields.pop("name", "made by someone else"),
            disk_format=fields.pop("disk_format", "qcow2"),
            container_format=fields.pop("container_format", "bare"),
            owner=owner,
            tags=list(tags),
            **fields,
            **properties,
        )
        if data is not None:
            self.images.upload(image["id"], io.BytesIO(data), image_size=len(data))
        return str(image["id"])

    def with_tag(self, tag: str) -> list[dict[str, Any]]:
        """Every image carrying the tag, hidden or not, in any project."""
        found: list[dict[str, Any]] = []
        for hidden in (False, True):
            filters = {"tag": [tag], "os_hidden": hidden}
            found += [dict(image) for image in self.images.list(filters=filters)]
        return found

    def delete(self, *image_ids: str) -> None:
        """Delete the images, protected or not; those already gone are fine."""
        for image_id in image_ids:
            with contextlib.suppress(exc.HTTPNotFound):
                if self.images.get(image_id).get("protected"):
                    self.images.update(image_id, protected=False)
                self.images.delete(image_id)


def unique_tag(prefix: str) -> str:
    """A tag no other test uses, so that tests sharing the devcloud never see each other's images."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def cleaned_up(admin: GlanceAdmin, tag: str, made: list[str]) -> Iterator[None]:
    """Delete, afterwards, every image with the tag and every image whose id is in `made`."""
    try:
        yield
    finally:
        admin.delete(*made, *(str(image["id"]) for image in admin.with_tag(tag)))

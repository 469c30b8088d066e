"""Images as the core offers them to AddAppliance / UpdateAppliance: LOCAL files and REMOTE
URLs with basic-auth credentials, as messages of the independent client."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

from attrs import define, evolve

from support.image_server import ImageServer
from support.independent_client import client

VO = "fedcloud.egi.eu"
LIST_ID = "5d3c1b2a-7e6f-5a4b-9c8d-0e1f2a3b4c5d"
MIB = 1024 * 1024
UPDATED: dict[str, Any] = {"image_digest": "image-digest-2", "digest": "appliance-digest-2"}  # a new version


def random_bytes(size: int) -> bytes:
    return os.urandom(size)


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


@define
class Offer:
    """One image as the core offers it; becomes the Appliance message of Add/UpdateAppliance."""

    identifier: str
    data: bytes
    location: str
    mode: str = "LOCAL"  # or "REMOTE"
    username: str = ""
    password: str = ""
    format: str = "QCOW2"
    checksum: str | None = None  # default: the data's own
    size: int | None = None  # default: the data's own
    digest: str = "appliance-digest-1"
    image_digest: str = "image-digest-1"
    title: str = "Image for Transfer Test [Ubuntu/22.04/KVM]"

    def message(self) -> Any:
        pb2 = client().pb2
        appliance = pb2.Appliance(
            identifier=self.identifier,
            title=self.title,
            mpuri=f"https://appdb.egi.eu/store/vo/image/{self.identifier}:1/",
            vo=VO,
            image_list_identifier=LIST_ID,
            ram=1024,
            core=1,
            digest=self.digest,
        )
        appliance.image.CopyFrom(
            pb2.Image(
                mode=pb2.Image.Mode.Value(self.mode),
                location=self.location,
                format=pb2.Image.Format.Value(self.format),
                uri=f"https://images.example.org/{self.identifier}.img",
                checksum=self.checksum if self.checksum is not None else sha512(self.data),
                size=self.size if self.size is not None else len(self.data),
                username=self.username,
                password=self.password,
                digest=self.image_digest,
            )
        )
        return appliance


def remote(
    server: ImageServer, identifier: str, data: bytes, *, in_url: bool = False, **changes: Any
) -> Offer:
    """An offer of a file on the core's web server, with the server's credentials (in the
    username and password fields, as the core sends them, or in the URL)."""
    path = f"/{identifier}-{uuid.uuid4().hex[:8]}.qcow2"
    server.offer(path, data)
    offer = Offer(identifier, data, server.url(path, credentials=in_url), mode="REMOTE")
    if not in_url:
        offer = evolve(offer, username=server.username, password=server.password)
    return evolve(offer, **changes)

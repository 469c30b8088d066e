"""ckos over a real Glance, offered images through the gRPC wire as the core offers them, with
everything a transfer test checks afterwards: what Glance holds (seen by its admin), what the
process still has open, what was left on disk, and every log line written meanwhile.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import glanceclient
import grpc
from attrs import define, evolve, field, frozen

from ckos import config
from ckos.adapters.glance.catalog import GlanceCatalog
from ckos.adapters.glance.sessions import Credentials, ProjectClients
from ckos.bootstrap import Application, build
from ckos.config import ImageSettings, Settings
from support.devcloud import DevCloud
from support.fakes import ManualClock
from support.grpc_server import running_server
from support.independent_client import client
from support.offers import LIST_ID, VO, Offer, random_bytes, sha512
from support.process_state import captured_logs, open_files, settled


@define
class Outcome:
    code: grpc.StatusCode
    details: str


@define
class TransferSite:
    cloud: DevCloud
    app: Application
    target: str
    spool: Path
    temp: Path  # tempfile.gettempdir() while the site runs
    tag: str
    clock: ManualClock
    admin: Any  # glanceclient's images manager, with the admin's session
    logs: list[str] = field(factory=list, repr=False)
    creations: int = 0  # how often ckos asked the catalog to create an image

    @property
    def owner(self) -> str:
        return self.cloud.project_id(VO)

    def call(self, rpc: str, request: Any) -> Outcome:
        with grpc.insecure_channel(self.target) as channel:
            try:
                getattr(client().stub(channel), rpc)(request)
            except grpc.RpcError as error:
                return Outcome(error.code(), error.details() or "")
        return Outcome(grpc.StatusCode.OK, "")

    def offer(self, rpc: str, offer: Offer) -> Outcome:
        return self.call(rpc, offer.message())

    def local(self, identifier: str, data: bytes, **changes: Any) -> Offer:
        """An offer of a file the test writes to the spool, as the core does before the call."""
        path = self.spool / f"{identifier}-{uuid.uuid4().hex[:8]}.img"
        path.write_bytes(data)
        return Offer(identifier=identifier, data=data, location=str(path), **changes)

    def appliances(self) -> list[Any]:
        request = client().pb2.ImageListIdentifier(image_list_identifier=LIST_ID)
        with grpc.insecure_channel(self.target) as channel:
            return list(client().stub(channel).Appliances(request))

    def images(self) -> dict[str, dict[str, Any]]:
        """Every image with our tag, hidden or not, in any project, by id (seen by Glance's admin)."""
        found: dict[str, dict[str, Any]] = {}
        for hidden in (False, True):
            for image in self.admin.list(filters={"tag": [self.tag], "os_hidden": hidden}):
                found[image["id"]] = dict(image)
        return found

    def live(self) -> dict[str, dict[str, Any]]:
        """The live image of each appliance, by appliance id; fails if one has several."""
        live: dict[str, dict[str, Any]] = {}
        for image in self.images().values():
            if image.get("APPLIANCE_STATUS") == "ACTIVE":
                identifier = image["APPLIANCE_ID"]
                assert identifier not in live, f"two live images of {identifier}"
                live[identifier] = image
        return live

    def data(self, image_id: str) -> bytes:
        return b"".join(self.admin.data(image_id))

    def all_image_ids(self) -> set[str]:
        """Every image in the cloud, of any project, tag or state (the admin's view)."""
        return {
            image["id"]
            for hidden in (False, True)
            for image in self.admin.list(filters={"os_hidden": hidden}, page_size=200)
        }

    def log_text(self) -> str:
        return "\n".join(self.logs)

    def baseline(self) -> Baseline:
        return Baseline(
            images=self.all_image_ids(),
            files=open_files(),
            spool=set(self.spool.iterdir()),
            creations=self.creations,
        )

    def check_clean(self, before: Baseline, *, added: int = 0) -> None:
        """Nothing left behind since `before`: no image but `added` new ones, no temporary or
        other new file, no file still open."""
        now = self.all_image_ids()
        assert before.images <= now, "an image that was there before is gone"
        assert len(now - before.images) == added, f"images left behind: {now - before.images}"
        assert list(self.temp.iterdir()) == [], f"temporary files left behind: {list(self.temp.iterdir())}"
        assert set(self.spool.iterdir()) == before.spool, "the spool changed"
        assert settled(lambda: open_files() <= before.files), f"still open: {open_files() - before.files}"

    def check_secret_free(self, *secrets: str) -> None:
        """None of the secrets in any log line, nor anywhere in any image of the cloud."""
        assert all(secrets), "a test secret is empty"
        text = self.log_text()
        glance = repr([dict(image) for image in self.admin.list(filters={"os_hidden": False})])
        glance += repr([dict(image) for image in self.admin.list(filters={"os_hidden": True})])
        for secret in secrets:
            assert secret not in text, f"{secret!r} in the log"
            assert secret not in glance, f"{secret!r} in Glance"


@frozen
class Baseline:
    images: set[str]
    files: set[str]
    spool: set[Path]
    creations: int


def established(site: TransferSite, identifier: str = "app-1") -> tuple[str, Offer]:
    """A live image of the appliance from a good LOCAL transfer; the file gone, as the core does."""
    offer = site.local(identifier, random_bytes(64 * 1024))
    outcome = site.offer("AddAppliance", offer)
    assert outcome.code is grpc.StatusCode.OK, outcome.details
    Path(offer.location).unlink()
    return site.live()[identifier]["id"], offer


def check_still_live(site: TransferSite, identifier: str, image_id: str, offer: Offer) -> None:
    """The appliance's image is the same live one, and the core still sees the old digests."""
    live = site.live()[identifier]
    assert (live["id"], live["status"], live["os_hidden"]) == (image_id, "active", False)
    assert live["os_hash_value"] == sha512(offer.data)
    (entry,) = [appliance for appliance in site.appliances() if appliance.identifier == identifier]
    assert (entry.digest, entry.image.digest) == (offer.digest, offer.image_digest)
    assert entry.image.checksum == sha512(offer.data)


@contextmanager
def transfer_site(
    cloud: DevCloud,
    directory: Path,
    images: Callable[[ImageSettings], ImageSettings] | None = None,
    *,
    glance_via: str | None = None,
) -> Iterator[TransferSite]:
    """ckos configured for the cloud (its own tag, spool and temp folder), serving on a free port;
    with glance_via, ckos reaches Glance at that URL instead of the catalog's (a proxy).

    Whatever carries the site's tag is deleted afterwards.
    """
    spool = directory / "spool"
    temp = directory / "temp"
    spool.mkdir(parents=True)
    temp.mkdir()
    tag = f"ckos-transfer-{uuid.uuid4().hex[:12]}"
    configured = config.load(cloud.config_file)
    image_settings = evolve(configured.images, local_directories=(spool,))
    settings = evolve(
        configured,
        images=images(image_settings) if images else image_settings,
        glance=evolve(configured.glance, tag=tag),
    )
    clock = ManualClock(int(time.time()))
    catalog = None
    if glance_via is not None:
        catalog = GlanceCatalog(ProjectClients(_credentials(settings, glance_via)), tag=tag)
    app = build(settings, clock=clock, catalog=catalog)
    admin = glanceclient.Client("2", session=cloud.admin_session(), region_name=cloud.region).images
    site_logs: list[str] = []
    client()  # generated once per session into a temporary folder: not this site's
    saved_temp = tempfile.tempdir
    tempfile.tempdir = str(temp)
    try:
        with captured_logs(site_logs), running_server(app.backend, settings.server) as target:
            site = TransferSite(
                cloud=cloud, app=app, target=target, spool=spool, temp=temp, tag=tag,
                clock=clock, admin=admin, logs=site_logs,
            )  # fmt: skip
            _record_creations(site)
            yield site
    finally:
        tempfile.tempdir = saved_temp
        for hidden in (False, True):
            for image in admin.list(filters={"tag": [tag], "os_hidden": hidden}):
                admin.delete(image["id"])


def _credentials(settings: Settings, endpoint: str) -> Credentials:
    openstack = settings.openstack
    return Credentials(
        auth_url=openstack.auth_url,
        username=openstack.username,
        password=openstack.password,
        user_domain_name=openstack.user_domain_name,
        region_name=openstack.region_name,
        endpoint_override=endpoint,
    )


def _record_creations(site: TransferSite) -> None:
    """Count the catalog's image creations (a wrapper on this instance only)."""
    catalog: Any = site.app.catalog
    create = catalog.create_image

    def recorded(*args: Any, **kwargs: Any) -> str:
        site.creations += 1
        image_id: str = create(*args, **kwargs)
        return image_id

    catalog.create_image = recorded

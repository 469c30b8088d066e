"""ckos over a real Glance, offered images through the gRPC wire as the core offers them, with
everything a transfer test checks afterwards: what Glance holds (seen by its admin), what the
process still has open, what was left on disk, and every log line written meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
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
from loguru import logger

from ckos import config
from ckos.adapters.glance.catalog import GlanceCatalog
from ckos.adapters.glance.sessions import Credentials, ProjectClients
from ckos.bootstrap import Application, build
from ckos.config import ImageSettings, Settings
from support.devcloud import DevCloud
from support.fakes import ManualClock
from support.grpc_server import running_server
from support.image_server import ImageServer
from support.independent_client import client

VO = "fedcloud.egi.eu"
LIST_ID = "5d3c1b2a-7e6f-5a4b-9c8d-0e1f2a3b4c5d"
MIB = 1024 * 1024
UPDATED: dict[str, Any] = {"image_digest": "image-digest-2", "digest": "appliance-digest-2"}  # a new version
SETTLE = 3.0  # seconds allowed for closed files and sockets to be seen closed


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


def open_files() -> set[str]:
    """What the test process has open that is a regular file (sockets and pipes left out)."""
    found: set[str] = set()
    for fd in os.listdir("/proc/self/fd"):
        entry = f"/proc/self/fd/{fd}"
        try:
            if stat.S_ISREG(os.stat(entry).st_mode):
                found.add(os.readlink(entry))
        except OSError:  # closed meanwhile, or the listing's own descriptor
            continue
    return found


def settled(check: Callable[[], bool], timeout: float = SETTLE) -> bool:
    """Whether `check` holds now or within the timeout (closing happens on other threads)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def captured_logs(into: list[str]) -> Iterator[None]:
    """Every log line of the process meanwhile, ours and the libraries', down to DEBUG."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            into.append(f"{record.name}: {self.format(record)}")

    root = logging.getLogger()
    handler = Collect(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sink = logger.add(lambda message: into.append(str(message)), level=0, format="{message} {extra}")
    try:
        yield
    finally:
        logger.remove(sink)
        root.removeHandler(handler)
        root.setLevel(level)


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

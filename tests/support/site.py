"""A ckos site for end-to-end tests: the real server over a catalog (the in-memory one, or the
devcloud's real Glance), a core that syncs the fixture lists, and an independent view of the catalog."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import glanceclient
import grpc
import pytest
from attrs import define, evolve

from ckos import config
from ckos.adapters.glance.record import ImageRecord
from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.bootstrap import Application, build
from ckos.config import CatalogSettings, ImageSettings, LifecycleSettings, ServerSettings, Settings
from ckos.domain.mapping import VOMapping
from ckos.domain.model import ProjectRef
from support import core, core1
from support.catalog_state import CatalogState, GlanceState, MemoryState, one_live_each, ours
from support.devcloud import DevCloud
from support.fakes import ManualClock, StaticDirectory
from support.grpc_server import running_server
from support.independent_client import client

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
LISTS = {name: FIXTURES / "imagelists" / f"imagelist_{name}.json" for name in ("v1", "v2", "v3", "expired")}
SESSION = FIXTURES / "core-2.0.0-session.jsonl"
RECORDED = dict(zip(LISTS, core.recorded_runs(SESSION), strict=True))

NOW = 1_795_676_558  # when the session was recorded: the fixtures' dates are far before or after
GRACE = 3600  # retired images stay this long before collection, so tests can see them retired
VO = "vo.example.eu"
PROJECT = ProjectRef(name="vo-example", domain="default")
TAG = "cloudkeeper-os"

UBUNTU = "1f6d8c2a-0b7e-5f3c-8a9d-4e2b1c7f6a05"
CENTOS = "7c3e5a1b-9d2f-5e4a-b6c8-0a1d3f5e7b92"
OVA = "9a0b2c4d-6e8f-5a1b-8c3d-5e7f9a1b3c4d"
DEBIAN = "3e5f7a9b-1c2d-5e3f-a4b5-6c7d8e9f0a1b"
LIST_ID = "a3d1c9e2-5b7f-5e0a-9c4d-2f1e8b6a7d30"

# A test marked so runs over the in-memory catalog and over the devcloud's real Glance (through
# the `site` fixture of tests/e2e); the Glance run carries the openstack mark, as every user of
# the devcloud does.
both_sites = pytest.mark.parametrize(
    "site", [pytest.param("memory"), pytest.param("glance", marks=pytest.mark.openstack)], indirect=True
)


@define
class Site:
    """One ckos deployment under test, and a core that syncs the fixture lists against it."""

    app: Application
    state: CatalogState
    clock: ManualClock
    spool: Path
    target: str
    tag: str = TAG
    owner: str = str(PROJECT)  # the owner of VO's images, as the catalog shows it
    protocol: str = "core-2.0"  # the wire layout served, and spoken by sync() and call()

    @property
    def catalog(self) -> MemoryCatalog:
        """The in-memory catalog, for tests that rig it or look inside (sites over the fake only)."""
        catalog = self.app.catalog
        assert isinstance(catalog, MemoryCatalog), "this test needs the in-memory catalog"
        return catalog

    def sync(self, name: str, *, tamper: core.Tamper | None = None) -> core.Run:
        """One run of the list by a core of the site's layout (core 1.x, or core 2.0 alike)."""
        if self.protocol == "core-1":
            return core1.run(self.target, LISTS[name], self.spool, now=self.clock.value, tamper=tamper)
        return core.run(
            self.target, LISTS[name], self.spool, now=self.clock.value, tamper=tamper, layout=self.protocol
        )

    @contextmanager
    def serving(self, protocol: str) -> Iterator[Site]:
        """The same site (backend, catalog, clock, spool) served by a second server in another layout."""
        with running_server(self.app.backend, ServerSettings(protocol=protocol)) as target:
            yield evolve(self, target=target, protocol=protocol)

    def call(self, rpc: str, request: Any) -> tuple[grpc.StatusCode, list[Any]]:
        """One call as the core makes it, a stream read to its end: the code and what arrived."""
        received: list[Any] = []
        with grpc.insecure_channel(self.target) as channel:
            method = getattr(client(self.protocol).stub(channel), rpc)
            try:
                if rpc in ("ImageLists", "Appliances"):
                    for item in method(request):
                        received.append(item)
                else:
                    received.append(method(request))
            except grpc.RpcError as error:
                return error.code(), received
        return grpc.StatusCode.OK, received

    def appliances(self) -> list[Any]:
        request = client(self.protocol).pb2.ImageListIdentifier(image_list_identifier=LIST_ID)
        code, received = self.call("Appliances", request)
        assert code is grpc.StatusCode.OK
        return received

    def image_lists(self) -> list[str]:
        code, received = self.call("ImageLists", client(self.protocol).empty())
        assert code is grpc.StatusCode.OK
        return [item.image_list_identifier for item in received]

    def records(self) -> list[ImageRecord]:
        return self.state.records()

    def data(self, image_id: str) -> bytes:
        return self.state.data(image_id)

    def snapshot(self) -> object:
        return self.state.snapshot()

    def ours(self, status: str) -> dict[str, list[ImageRecord]]:
        """Our images with this APPLIANCE_STATUS, by appliance identifier."""
        return ours(self.records(), self.tag, status)

    def live(self) -> dict[str, ImageRecord]:
        """The single live image of each appliance (fails if an appliance has several)."""
        return one_live_each(self.records(), self.tag)


def make_site(
    tmp_path: Path,
    mapping: dict[str, ProjectRef] | None = None,
    *,
    protocol: str = "core-2.0",
    listing_max_age: float = 0.0,
) -> Iterator[Site]:
    """A site over the in-memory catalog. Listings are not shared between calls unless asked
    (`listing_max_age`), so that tests rigging the catalog see the effect at the next call."""
    spool = tmp_path / "spool"
    spool.mkdir()
    clock = ManualClock(NOW)
    catalog = MemoryCatalog(tag=TAG, clock=clock.now)
    settings = Settings(
        server=ServerSettings(protocol=protocol),
        images=ImageSettings(local_directories=(spool,)),
        catalog=CatalogSettings(type="memory", listing_max_age=listing_max_age),
        lifecycle=LifecycleSettings(retire_grace=GRACE),
    )
    directory = StaticDirectory(VOMapping(mapping or {VO: PROJECT}))
    app = build(settings, catalog=catalog, clock=clock, directory=directory)
    with running_server(app.backend, settings.server) as target:
        state = MemoryState(catalog)
        yield Site(app=app, state=state, clock=clock, spool=spool, target=target, protocol=protocol)


def make_glance_site(
    tmp_path: Path, cloud: DevCloud, *, listing_max_age: float = 0.0, tag: str | None = None
) -> Iterator[Site]:
    """A site over the devcloud's real Glance, built by bootstrap from the devcloud's configuration.

    Its own tag keeps it apart from the other tests on the shared cloud, and whatever carries the
    tag is deleted afterwards. The clock starts at the real time, as Glance's created_at does.
    """
    spool = tmp_path / "spool"
    spool.mkdir()
    tag = tag or f"ckos-e2e-{uuid.uuid4().hex[:12]}"
    configured = config.load(cloud.config_file)
    settings = evolve(
        configured,
        images=evolve(configured.images, local_directories=(*configured.images.local_directories, spool)),
        glance=evolve(configured.glance, tag=tag),
        lifecycle=evolve(configured.lifecycle, retire_grace=GRACE),
        catalog=evolve(configured.catalog, listing_max_age=listing_max_age),
    )
    clock = ManualClock(int(time.time()))
    app = build(settings, clock=clock)
    admin = glanceclient.Client("2", session=cloud.admin_session(), region_name=cloud.region)
    state = GlanceState(admin.images, owners=[cloud.project_id(VO)], tag=tag)
    try:
        with running_server(app.backend, settings.server) as target:
            owner = cloud.project_id(VO)
            yield Site(app=app, state=state, clock=clock, spool=spool, target=target, tag=tag, owner=owner)
    finally:
        state.delete_tagged()

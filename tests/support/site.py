"""A ckos site for end-to-end tests: the real server over the in-memory catalog, and a core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from attrs import define

from ckos.adapters.glance.record import ImageRecord
from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.bootstrap import Application, build
from ckos.config import CatalogSettings, ImageSettings, LifecycleSettings, Settings
from ckos.domain.mapping import VOMapping
from ckos.domain.model import ProjectRef
from support import core
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


@define
class Site:
    """One ckos deployment under test, and a core that syncs the fixture lists against it."""

    app: Application
    catalog: MemoryCatalog
    clock: ManualClock
    spool: Path
    target: str

    def sync(self, name: str, *, tamper: core.Tamper | None = None) -> core.Run:
        return core.run(self.target, LISTS[name], self.spool, now=self.clock.value, tamper=tamper)

    def call(self, rpc: str, request: Any) -> tuple[grpc.StatusCode, list[Any]]:
        """One call as the core makes it, a stream read to its end: the code and what arrived."""
        received: list[Any] = []
        with grpc.insecure_channel(self.target) as channel:
            method = getattr(client().stub(channel), rpc)
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
        request = client().pb2.ImageListIdentifier(image_list_identifier=LIST_ID)
        code, received = self.call("Appliances", request)
        assert code is grpc.StatusCode.OK
        return received

    def image_lists(self) -> list[str]:
        code, received = self.call("ImageLists", client().empty())
        assert code is grpc.StatusCode.OK
        return [item.image_list_identifier for item in received]

    def records(self) -> list[ImageRecord]:
        return self.catalog.records()

    def ours(self, status: str) -> dict[str, list[ImageRecord]]:
        """Our images with this APPLIANCE_STATUS, by appliance identifier."""
        found: dict[str, list[ImageRecord]] = {}
        for record in self.records():
            if TAG in record.tags and record.properties.get("APPLIANCE_STATUS") == status:
                found.setdefault(record.properties["APPLIANCE_ID"], []).append(record)
        return found

    def live(self) -> dict[str, ImageRecord]:
        """The single live image of each appliance (fails if an appliance has several)."""
        live = self.ours("ACTIVE")
        assert all(len(images) == 1 for images in live.values()), live
        return {identifier: images[0] for identifier, images in live.items()}


def make_site(tmp_path: Path, mapping: dict[str, ProjectRef] | None = None) -> Iterator[Site]:
    spool = tmp_path / "spool"
    spool.mkdir()
    clock = ManualClock(NOW)
    catalog = MemoryCatalog(tag=TAG, clock=clock.now)
    settings = Settings(
        images=ImageSettings(local_directories=(spool,)),
        catalog=CatalogSettings(type="memory"),
        lifecycle=LifecycleSettings(retire_grace=GRACE),
    )
    directory = StaticDirectory(VOMapping(mapping or {VO: PROJECT}))
    app = build(settings, catalog=catalog, clock=clock, directory=directory)
    with running_server(app.backend, settings.server) as target:
        yield Site(app=app, catalog=catalog, clock=clock, spool=spool, target=target)

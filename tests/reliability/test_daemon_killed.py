"""The daemon killed with SIGKILL in the middle of UpdateAppliance (its upload half way into the
session's real Glance), then started again: the core's call fails UNAVAILABLE, the old image stays
live, the restarted daemon answers from Glance alone, and the core's next run (the update offered
again, then RemoveExpiredAppliances) leaves exactly one live image and nothing else."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from reliability.daemon_site import DaemonSite, daemon_site
from reliability.outages import check_exactly
from support.devcloud import DevCloud
from support.image_server import Fault, ImageServer
from support.independent_client import client
from support.offers import LIST_ID, MIB, UPDATED, Offer, random_bytes, remote
from support.process_state import settled

pytestmark = pytest.mark.openstack
STALE_AFTER = 2  # seconds: an unfinished image older than this is collected (default: a day)


def call(site: DaemonSite, rpc: str, request: Any) -> grpc.StatusCode:
    with grpc.insecure_channel(site.target) as channel:
        try:
            getattr(client().stub(channel), rpc)(request, timeout=120)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


@pytest.fixture
def server() -> Iterator[ImageServer]:
    with ImageServer(str(uuid.uuid4()), str(uuid.uuid4())) as running:
        yield running


def test_the_daemon_killed_during_an_update_leaves_the_old_image_live_and_the_next_run_converges(
    devcloud: DevCloud, tmp_path: Path, server: ImageServer
) -> None:
    changes = {"lifecycle": {"stale_upload_after": STALE_AFTER}}
    with daemon_site(devcloud, tmp_path, changes=changes) as site:
        first = random_bytes(64 * 1024)
        path = site.spool / "app-1.img"
        path.write_bytes(first)
        assert call(site, "AddAppliance", Offer("app-1", first, str(path)).message()) is grpc.StatusCode.OK
        path.unlink()
        (old,) = site.state.records()

        server.fault = Fault(gate_after=MIB)  # the upload is under way when the daemon dies
        data = random_bytes(3 * MIB)
        with ThreadPoolExecutor(1) as pool:
            update = pool.submit(
                call, site, "UpdateAppliance", remote(server, "app-1", data, **UPDATED).message()
            )
            assert server.held.wait(60), "the download never reached the gate"
            saving = lambda: any(r.status == "saving" for r in site.state.records())  # noqa: E731
            assert settled(saving, timeout=60), "the upload never started"
            assert site.stop(kill=True) == -9
            server.gate.set()
            assert update.result(timeout=60) is grpc.StatusCode.UNAVAILABLE

        records = site.state.records()
        live = [r for r in records if r.properties.get("APPLIANCE_STATUS") == "ACTIVE"]
        assert [r.id for r in live] == [old.id]  # the old image is still the live one
        assert len(records) == 2  # and the dead upload's image, never marked live
        site.start()
        assert list(site.temp.iterdir()) == []
        request = client().pb2.ImageListIdentifier(image_list_identifier=LIST_ID)
        with grpc.insecure_channel(site.target) as channel:
            listed = list(client().stub(channel).Appliances(request, timeout=60))
        assert [(a.identifier, a.image.digest) for a in listed] == [("app-1", "image-digest-1")]

        server.fault = Fault()
        again = remote(server, "app-1", data, **UPDATED).message()
        assert call(site, "UpdateAppliance", again) is grpc.StatusCode.OK
        time.sleep(STALE_AFTER + 1)  # the dead upload's image is stale now
        assert call(site, "RemoveExpiredAppliances", client().empty()) is grpc.StatusCode.OK
        check_exactly(site.state.records(), site.tag, {"app-1"})
        assert site.state.data(site.state.records()[0].id) == data
        assert list(site.temp.iterdir()) == []

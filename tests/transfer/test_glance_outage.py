"""Glance killed in the middle of an upload, on a devcloud of the test's own (the session's shared
one must keep running): the call fails UNAVAILABLE, the old image stays live, and once Glance is
back the next sync converges and collection removes what the dead upload left."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from support.devcloud import running_devcloud, up
from support.image_server import Fault, ImageServer
from support.independent_client import client
from support.offers import MIB, UPDATED, VO, random_bytes, remote, sha512
from support.process_state import settled
from support.transfer_site import check_still_live, established, transfer_site

pytestmark = pytest.mark.openstack

STALE_UPLOAD_AFTER = 86400  # the configured default: an unfinished image older than this is collected


def test_glance_dying_mid_upload_fails_the_call_and_the_next_sync_converges(
    tmp_path: Path, server: ImageServer
) -> None:
    with (
        running_devcloud(tmp_path / "cloud", vos={VO: "fedcloud"}) as cloud,
        transfer_site(cloud, tmp_path / "site") as site,
    ):
        image_id, first = established(site)
        server.fault = Fault(gate_after=MIB)  # the upload is under way when Glance dies
        data = random_bytes(3 * MIB)
        before = site.baseline()
        with ThreadPoolExecutor(1) as pool:
            call = pool.submit(site.offer, "UpdateAppliance", remote(server, "app-1", data, **UPDATED))
            assert server.held.wait(60), "the download never reached the gate"
            saving = lambda: any(image["status"] == "saving" for image in site.images().values())  # noqa: E731
            assert settled(saving, timeout=60), "the upload never started"
            os.killpg(cloud.pids["glance"], signal.SIGKILL)
            server.gate.set()
            outcome = call.result(timeout=120)
        assert outcome.code is grpc.StatusCode.UNAVAILABLE, outcome.details
        assert "cannot reach OpenStack" in outcome.details or "Glance" in outcome.details

        up(cloud.dir)  # Glance back, with what the dead upload left
        check_still_live(site, "app-1", image_id, first)
        (leftover,) = site.all_image_ids() - before.images
        assert "APPLIANCE_STATUS" not in site.images()[leftover]  # never marked: not listed to the core
        assert site.creations == before.creations + 1
        assert list(site.temp.iterdir()) == []
        assert settled(lambda: server.open_connections == 0)

        # The next sync: the core offers the update again, and collection finds the stale leftover.
        server.fault = Fault()
        outcome = site.offer("UpdateAppliance", remote(server, "app-1", data, **UPDATED))
        assert outcome.code is grpc.StatusCode.OK, outcome.details
        site.clock.value += STALE_UPLOAD_AFTER + 3600  # the clock began before the upload
        assert site.call("RemoveExpiredAppliances", client().empty()).code is grpc.StatusCode.OK
        live = site.live()["app-1"]
        assert (live["os_hash_value"], live["size"]) == (sha512(data), len(data))
        assert set(site.images()) == {live["id"]}, site.images()
        site.check_secret_free(server.username, server.password)

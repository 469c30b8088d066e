"""A sync run and the daemon (driven by a core) working on one site at once: one Glance tag, one
project, each its own image list. Every call and run succeeds, and the site converges on both."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc
from attrs import evolve

from support import core
from support.daemon_process import CLI
from support.devcloud import DevCloud
from support.site import GRACE, LISTS, make_glance_site
from support.sync_site import BUILD, REBUILD, UBUNTU, VO, SyncSite, disk


def sync_process(config: Path) -> tuple[int, dict[str, object], str]:
    command = [str(CLI), "sync", "--config", str(config), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    return done.returncode, json.loads(done.stdout or "{}"), done.stderr


def test_a_sync_and_a_core_driven_daemon_on_one_site_at_once(
    site: SyncSite, devcloud: DevCloud, tmp_path: Path
) -> None:
    site.push(UBUNTU, disk("22.04"), "22.04", BUILD)
    site.push(UBUNTU, disk("24.04"), "24.04", BUILD)
    config = site.config()
    (tmp_path / "daemon").mkdir()
    with contextmanager(make_glance_site)(
        tmp_path / "daemon", devcloud, listing_max_age=30.0, tag=site.tag
    ) as daemon:
        for round_number, name in enumerate(("v1", "v2", "v3")):
            if round_number == 2:  # past the grace: the daemon collects while the sync works
                daemon.clock.value += GRACE + 1
                site.push(UBUNTU, disk("24.04 again"), "24.04", REBUILD)
            listed = evolve(core.ImageList.load(LISTS[name]), vo=VO)  # the sync's project too
            with ThreadPoolExecutor(2) as both:
                ran = both.submit(core.run, daemon.target, listed, daemon.spool, now=daemon.clock.value)
                synced = both.submit(sync_process, config)
                run, (status, summary, err) = ran.result(), synced.result()
            failed = [call for call in run.calls if call.code is not grpc.StatusCode.OK]
            assert (run.exit_code, failed) == (0, []), name
            assert status == 0, err[-2000:]
            assert summary["sources"][0]["complete"] is True  # type: ignore[index]

        live = site.live()
        wanted = {
            entry["dc:identifier"]
            for entry in core.ImageList.load(LISTS["v3"]).entries
            if not core.entry_expired(entry, daemon.clock.value)
        }
        oci = {site.identifier(UBUNTU, "22.04"), site.identifier(UBUNTU, "24.04")}
        assert set(live) == wanted | oci
        assert site.state.data(live[site.identifier(UBUNTU, "24.04")].id) == disk("24.04 again")
        assert site.unfinished() == []

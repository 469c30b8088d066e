"""The real `cloudkeeper-os serve` process over the devcloud's real Glance, with its own Glance tag,
spool and temporary folder, watched from outside (resident memory), and Glance seen by its admin.

    with daemon_site(cloud, tmp_path) as site:
        site.target                  # "127.0.0.1:PORT" for a core
        site.rss_kib()               # the daemon's VmRSS now
        site.restart(kill=True)      # SIGKILL, then the same configuration started again
        site.state.records()         # every image carrying the tag (admin view)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import glanceclient
import grpc
from attrs import define

from support.catalog_state import GlanceState
from support.ckos_config import derived_config
from support.daemon_process import free_port
from support.devcloud import DevCloud
from support.independent_client import client

CLI = Path(sys.executable).with_name("cloudkeeper-os")
READY_TIMEOUT = 30.0


@define
class DaemonSite:
    cloud: DevCloud
    folder: Path
    config: Path
    target: str
    tag: str
    spool: Path
    temp: Path
    state: GlanceState
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(CLI), "serve", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "TMPDIR": str(self.temp)},
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the daemon exited: {self.log.read_text()[-3000:]}"
            if answers(self.target):
                return
            time.sleep(0.1)
        raise AssertionError(f"the daemon never answered: {self.log.read_text()[-3000:]}")

    def stop(self, *, kill: bool = False) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        status = self.process.wait(timeout=30)
        self.process = None
        return status

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def rss_kib(self) -> int:
        return status_kib(self.pid, "VmRSS")

    def peak_kib(self) -> int:
        return status_kib(self.pid, "VmHWM")


def status_kib(pid: int, name: str) -> int:
    """A "VmRSS"-like line of /proc/PID/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise KeyError(name)


def answers(target: str) -> bool:
    """Whether PreAction succeeds within a second."""
    with grpc.insecure_channel(target) as channel:
        try:
            client().stub(channel).PreAction(client().empty(), timeout=1.0)
        except grpc.RpcError:
            return False
    return True


@contextmanager
def daemon_site(
    cloud: DevCloud, folder: Path, *, changes: Mapping[str, Mapping[str, object]] | None = None
) -> Iterator[DaemonSite]:
    """The daemon running on a free port with the devcloud's configuration and its own tag;
    stopped and every image with the tag deleted afterwards, whatever happens."""
    spool, temp = folder / "spool", folder / "temp"
    spool.mkdir(parents=True)
    temp.mkdir()
    port = free_port()
    tag = f"ckos-reliability-{uuid.uuid4().hex[:12]}"
    settings: dict[str, Mapping[str, object]] = {
        "server": {"listen": f"127.0.0.1:{port}"},
        "glance": {"tag": tag},
        "images": {"local_directories": [str(spool)]},
        "logging": {"level": "WARNING"},
    }
    for section, options in (changes or {}).items():
        settings[section] = {**settings.get(section, {}), **options}
    config = derived_config(
        cloud.config_file, folder, mapping=json.loads(cloud.mapping_file.read_text()), changes=settings
    )
    admin = glanceclient.Client("2", session=cloud.admin_session(), region_name=cloud.region)
    state = GlanceState(admin.images, owners=[], tag=tag)
    site = DaemonSite(
        cloud=cloud, folder=folder, config=config, target=f"127.0.0.1:{port}", tag=tag,
        spool=spool, temp=temp, state=state, log=folder / "daemon.log",
    )  # fmt: skip
    try:
        site.start()
        yield site
    finally:
        if site.process is not None and site.process.poll() is None:
            site.process.kill()
            site.process.wait(timeout=30)
        state.delete_tagged()

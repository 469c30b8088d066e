"""Faults on a devcloud of the test's own: one of its services killed, then brought back, and the
check every fault test ends with (Glance holds exactly what the list says, nothing else).

    with own_devcloud(tmp_path / "cloud") as cloud:
        kill(cloud, "glance")           # SIGKILL to the gunicorn master and its workers
        cloud = restart(cloud)          # `scripts/devcloud up`: what is down starts again
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable

from ckos.adapters.glance.record import ImageRecord
from support.devcloud import DevCloud, up
from support.process_state import settled

DEATH_TIMEOUT = 10.0


def kill(cloud: DevCloud, service: str) -> None:
    """SIGKILL to the service's process group (the gunicorn master and its workers)."""
    pid = cloud.pids[service]
    os.killpg(pid, signal.SIGKILL)
    assert settled(lambda: not _alive(pid), timeout=DEATH_TIMEOUT), f"{service} (pid {pid}) survived SIGKILL"


def restart(cloud: DevCloud) -> DevCloud:
    """The devcloud up again (same ports, same data); its new pids."""
    started = time.monotonic()
    again = up(cloud.dir)
    assert time.monotonic() - started < 300
    return again


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead: it only waits for its parent (scripts/devcloud, gone) to be reaped.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def check_exactly(records: Iterable[ImageRecord], tag: str, live: set[str]) -> None:
    """The images carrying the tag are exactly one live, active image per appliance of `live`:
    nothing retired, queued, saving, killed or otherwise unfinished is left."""
    tagged = [record for record in records if tag in record.tags]
    states = sorted(
        (r.properties.get("APPLIANCE_ID", ""), r.properties.get("APPLIANCE_STATUS", ""), r.status)
        for r in tagged
    )
    assert all(record.status == "active" for record in tagged), states
    assert all(record.properties.get("APPLIANCE_STATUS") == "ACTIVE" for record in tagged), states
    assert all(record.os_hidden is False for record in tagged), states
    identifiers = [record.properties["APPLIANCE_ID"] for record in tagged]
    assert sorted(identifiers) == sorted(live), states

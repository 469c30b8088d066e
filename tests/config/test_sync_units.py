"""The systemd units of `cloudkeeper-os sync`: a hardened oneshot service and its 2-hour timer."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

from ckos.config import Settings
from ckos.entrypoints.cli import DEFAULT_CONFIG
from support.daemon_process import CLI

CONFIG = Path(__file__).resolve().parents[2] / "config"
SERVICE = CONFIG / "cloudkeeper-os-sync.service"
TIMER = CONFIG / "cloudkeeper-os-sync.timer"
INSTALLED = "/usr/local/bin/cloudkeeper-os"


def unit(path: Path) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    parsed.optionxform = str  # type: ignore[assignment, method-assign]  # systemd keys are case-sensitive
    parsed.read_string(path.read_text())
    return parsed


def test_the_service_runs_one_sync_as_the_dedicated_user_confined() -> None:
    service = unit(SERVICE)["Service"]
    assert service["Type"] == "oneshot"
    assert service["ExecStart"] == f"{INSTALLED} sync --config {DEFAULT_CONFIG}"
    assert service["User"] == service["Group"] == "cloudkeeper-os"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == service["PrivateTmp"] == service["ProtectHome"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    # What the defaults write to: the lock under /run/cloudkeeper-os, the work directory in the cache.
    sync = Settings().sync
    assert sync.lock_file.parent == Path("/run") / service["RuntimeDirectory"]
    assert sync.work_dir == Path("/var/cache") / service["CacheDirectory"]


def test_the_timer_fires_every_two_hours_with_a_random_delay() -> None:
    timer = unit(TIMER)["Timer"]
    assert timer["OnUnitActiveSec"] == "2h"
    assert timer["RandomizedDelaySec"] == "30min"
    assert timer["Persistent"] == "true"


def test_systemd_accepts_both(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is needed to check the units (Debian: package systemd)"
    for source in (SERVICE, TIMER):
        (tmp_path / source.name).write_text(source.read_text().replace(INSTALLED, str(CLI)))
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr

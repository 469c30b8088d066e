"""The systemd unit: how it starts, reloads and stops the daemon, and how it confines it."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from ckos.config import Settings
from ckos.entrypoints.cli import DEFAULT_CONFIG
from ckos.entrypoints.grpc.server import CLEANUP_SECONDS
from support.daemon_process import CLI

UNIT = Path(__file__).resolve().parents[2] / "config" / "cloudkeeper-os.service"
INSTALLED = "/usr/local/bin/cloudkeeper-os"


@pytest.fixture(scope="module")
def service() -> configparser.SectionProxy:
    unit = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    unit.optionxform = str  # type: ignore[assignment, method-assign]  # systemd keys are case-sensitive
    unit.read_string(UNIT.read_text())
    return unit["Service"]


def test_it_runs_serve_as_a_notify_service_of_a_dedicated_user(service: configparser.SectionProxy) -> None:
    assert service["Type"] == "notify"
    assert service["ExecStart"] == f"{INSTALLED} serve --config {DEFAULT_CONFIG}"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["User"] == service["Group"] == "cloudkeeper-os"
    assert service["RestartPreventExitStatus"] == "2"  # what the command returns for a bad configuration
    assert service["Environment"] == "MALLOC_ARENA_MAX=2"


def test_it_waits_longer_than_the_grace_and_the_clean_up(service: configparser.SectionProxy) -> None:
    assert float(service["TimeoutStopSec"]) > Settings().server.shutdown_grace + CLEANUP_SECONDS


def test_it_is_confined(service: configparser.SectionProxy) -> None:
    for key in (
        "NoNewPrivileges",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
    ):
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    assert service["RestrictAddressFamilies"] == "AF_INET AF_INET6 AF_UNIX"  # AF_UNIX: $NOTIFY_SOCKET
    assert service["CapabilityBoundingSet"] == ""
    assert "ReadWritePaths" not in service  # ckos writes nothing locally
    assert service["ReadOnlyPaths"] == "-/var/spool/cloudkeeper/images"


def test_systemd_accepts_it(tmp_path: Path) -> None:
    # systemd-analyze checks the executable exists: point it at the one installed for the tests.
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is needed to check the unit (Debian: package systemd)"
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED, str(CLI)))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr

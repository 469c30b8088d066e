"""The OpenStack venv: made on first use, installed again only when requirements.txt changes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from devcloudlib.procs import SetupError, locked, tail

# Holds the hash of the requirements file the venv was last installed from.
MARKER = ".devcloud-requirements.sha256"
TOOLS = ("gunicorn", "keystone-manage", "glance-manage")


def requirements_digest(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def ensure_venv(venv: Path, requirements: Path, log: Path) -> float:
    """Make `venv` match `requirements`; returns the seconds spent (0 when it already did)."""
    digest = requirements_digest(requirements)
    if _installed(venv, digest):
        return 0.0
    if sys.version_info < (3, 11):  # noqa: UP036 (devcloud may run on an older system python3)
        raise SetupError(f"glance and keystone need Python 3.11 or newer, not {sys.version.split()[0]}")
    started = time.monotonic()
    venv.mkdir(parents=True, exist_ok=True)
    # Two devclouds starting at once (parallel test runs) must not install into one venv together.
    with locked(venv / ".devcloud.lock"):
        if _installed(venv, digest):  # the other one finished while we waited
            return time.monotonic() - started
        print(f"devcloud: installing the OpenStack venv {venv} (first use, about a minute)", flush=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as output:
            # Over an existing folder this repairs the interpreter links and keeps what is installed.
            steps = [
                [sys.executable, "-m", "venv", str(venv)],
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                 "--no-input", "-r", str(requirements)],
            ]  # fmt: skip
            for command in steps:
                output.write(f"$ {' '.join(command)}\n")
                output.flush()
                done = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, env=env, check=False)
                if done.returncode != 0:
                    raise SetupError(f"installing the OpenStack venv failed; {log}:\n{tail(log, 30)}")
        (venv / MARKER).write_text(digest + "\n")
    return time.monotonic() - started


def _installed(venv: Path, digest: str) -> bool:
    try:
        marker = (venv / MARKER).read_text().strip()
    except OSError:
        return False
    return marker == digest and all(os.access(venv / "bin" / tool, os.X_OK) for tool in TOOLS)

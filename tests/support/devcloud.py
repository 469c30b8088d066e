"""A real Keystone and Glance for tests: scripts/devcloud driven from Python.

    with running_devcloud(tmp_path / "cloud") as cloud:
        session = cloud.session("fedcloud.egi.eu")  # ckos, scoped to the VO's project
        images = glanceclient.Client("2", session=session).images

`up` makes the OpenStack venv on first use (about a minute, network needed); later starts
take seconds (from scratch about 8 s, after `down` about 2 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from attrs import frozen
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "devcloud"
# A first `up` on a fresh machine also installs the OpenStack venv.
UP_TIMEOUT = 900.0
DOWN_TIMEOUT = 60.0

# The VOs (and their projects) of the devcloud the test session starts.
TEST_VOS = {"fedcloud.egi.eu": "fedcloud", "vo.example.eu": "example", "other.example.eu": "other"}


class DevCloudError(RuntimeError):
    """scripts/devcloud failed; the message holds its output (with the servers' log tails)."""


@frozen
class Credentials:
    username: str
    password: str
    user_domain_name: str


@frozen
class DevCloud:
    """A running devcloud, as its devcloud.json describes it."""

    dir: Path
    keystone_url: str  # the Keystone v3 endpoint, ".../v3": an auth_url
    glance_url: str
    region: str
    admin: Credentials
    admin_project_id: str
    ckos: Credentials  # member and reader in every VO project
    vos: Mapping[str, str]  # VO -> project name
    projects: Mapping[str, str]  # project name -> id
    pids: Mapping[str, int]  # "keystone" and "glance" (gunicorn masters)
    config_file: Path  # a valid ckos configuration for this cloud
    mapping_file: Path
    openrc: Path  # admin credentials as OS_* variables
    images_dir: Path  # the ckos configuration's [images] local_directories
    log_dir: Path
    timings: Mapping[str, float]  # seconds per step of the last `up`, and "total"

    def project_id(self, vo: str) -> str:
        return self.projects[self.vos[vo]]

    @property
    def project_ids_by_vo(self) -> dict[str, str]:
        return {vo: self.project_id(vo) for vo in self.vos}

    def session(self, vo: str, credentials: Credentials | None = None) -> ks_session.Session:
        """A keystoneauth session of `credentials` (default: ckos) scoped to the VO's project."""
        who = credentials or self.ckos
        auth = v3.Password(
            auth_url=self.keystone_url,
            username=who.username,
            password=who.password,
            user_domain_name=who.user_domain_name,
            project_id=self.project_id(vo),
        )
        return ks_session.Session(auth=auth)

    def admin_session(self) -> ks_session.Session:
        auth = v3.Password(
            auth_url=self.keystone_url,
            username=self.admin.username,
            password=self.admin.password,
            user_domain_name=self.admin.user_domain_name,
            project_id=self.admin_project_id,
        )
        return ks_session.Session(auth=auth)


def load(directory: Path) -> DevCloud:
    """The devcloud described by DIR/devcloud.json (written by the last successful `up`)."""
    raw: dict[str, Any] = json.loads((directory / "devcloud.json").read_text())
    paths = raw["paths"]
    admin = raw["admin"]
    return DevCloud(
        dir=Path(raw["dir"]),
        keystone_url=raw["keystone_url"],
        glance_url=raw["glance_url"],
        region=raw["region"],
        admin=Credentials(admin["username"], admin["password"], admin["user_domain_name"]),
        admin_project_id=admin["project_id"],
        ckos=Credentials(**raw["ckos"]),
        vos=dict(raw["vos"]),
        projects=dict(raw["projects"]),
        pids=dict(raw["pids"]),
        config_file=Path(paths["config"]),
        mapping_file=Path(paths["mapping"]),
        openrc=Path(paths["openrc"]),
        images_dir=Path(paths["images"]),
        log_dir=Path(paths["log_dir"]),
        timings=dict(raw["timings"]),
    )


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    # The interpreter running the tests is Python 3.11+, as the script needs; it makes the
    # OpenStack venv with it.
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def up(directory: Path, vos: Mapping[str, str] | None = None) -> DevCloud:
    """`scripts/devcloud up DIR`: start (or find running) Keystone and Glance; DevCloudError on failure."""
    vo_args = [f"--vo={vo}={project}" for vo, project in (vos or {}).items()]
    done = _run("up", str(directory), *vo_args, timeout=UP_TIMEOUT)
    if done.returncode != 0:
        raise DevCloudError(f"devcloud up {directory} failed:\n{done.stdout}\n{done.stderr}")
    return load(directory)


def down(directory: Path) -> None:
    """`scripts/devcloud down DIR`: stop both servers (nothing happens when none runs)."""
    done = _run("down", str(directory), timeout=DOWN_TIMEOUT)
    if done.returncode != 0:
        raise DevCloudError(f"devcloud down {directory} failed:\n{done.stdout}\n{done.stderr}")


def is_running(directory: Path) -> bool:
    """`scripts/devcloud status DIR`: whether both servers answer."""
    return _run("status", str(directory), timeout=DOWN_TIMEOUT).returncode == 0


@contextmanager
def running_devcloud(directory: Path, vos: Mapping[str, str] | None = None) -> Iterator[DevCloud]:
    """Keystone and Glance running for DIR while the block runs; stopped after it, whatever happens.

    `vos` maps VO names to project names (default: fedcloud.egi.eu=fedcloud, vo.example.eu=example).
    """
    try:
        yield up(directory, vos)
    finally:
        down(directory)

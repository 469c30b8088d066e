"""Glance: its configuration and the one-time database setup."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from devcloudlib import loopback
from devcloudlib.layout import Layout, render
from devcloudlib.procs import SetupError, run_tool


def write_config(layout: Layout, keystone_url: str, glance_password: str) -> Path:
    """Write glance-api.conf and its paste file (on every `up`); returns the config folder.

    The WSGI app (glance.wsgi.api:application) reads glance-api.conf from the folder named by
    $OS_GLANCE_CONFIG_DIR, and the paste file from its [paste_deploy] config_file.
    """
    etc = layout.glance_dir / "etc"
    values = {
        "log_dir": str(layout.log_dir), "glance_dir": str(layout.glance_dir),
        "keystone_url": keystone_url, "glance_password": glance_password,
    }  # fmt: skip
    render("glance-api.conf", etc / "glance-api.conf", **values)
    render("glance-api-paste.ini", etc / "glance-api-paste.ini", **values)
    return etc


def setup(layout: Layout, venv: Path, env: Mapping[str, str], digest: str) -> bool:
    """Create (or migrate) the database once per requirements hash; returns whether it ran."""
    marker = layout.glance_dir / ".setup-done"
    if marker.exists() and marker.read_text().strip() == digest:
        return False
    config = layout.glance_dir / "etc" / "glance-api.conf"
    command = [str(venv / "bin" / "glance-manage"), "--config-file", str(config), "db_sync"]
    run_tool("glance-manage db_sync", command, layout.log_dir / "glance-db_sync.log", env, layout.dir)
    marker.write_text(digest + "\n")
    return True


def check_authenticated_listing(glance_url: str, token: str) -> None:
    """GET /v2/images with a user's token: proves keystonemiddleware can reach Keystone."""
    answer = loopback.request("GET", f"{glance_url}/v2/images?limit=1", headers={"X-Auth-Token": token})
    if answer.status != 200:
        raise SetupError(f"Glance refused an image listing: HTTP {answer.status} {answer.body[:300]!r}")

"""The files `up` leaves in DIR for people and tests: ckos config, mapping, openrc, devcloud.json."""

from __future__ import annotations

import json
import shlex
from typing import Any

from devcloudlib.keystone import ADMIN_PROJECT, CKOS_USER, REGION
from devcloudlib.layout import Layout, Passwords, write_private

SCHEMA_VERSION = 1


def describe(
    layout: Layout,
    *,
    urls: dict[str, str],
    passwords: Passwords,
    vos: dict[str, str],
    admin_project_id: str,
    project_ids: dict[str, str],
    pids: dict[str, int],
    venv: str,
    timings: dict[str, float],
) -> dict[str, Any]:
    """The content of devcloud.json (its keys are documented in scripts/devcloud --help)."""
    return {
        "version": SCHEMA_VERSION,
        "dir": str(layout.dir),
        "keystone_url": urls["keystone"] + "/v3",
        "glance_url": urls["glance"],
        "region": REGION,
        "admin": {
            "username": "admin", "password": passwords.admin, "user_domain_name": "Default",
            "project_name": ADMIN_PROJECT, "project_domain_name": "Default", "project_id": admin_project_id,
        },
        "ckos": {"username": CKOS_USER, "password": passwords.ckos, "user_domain_name": "Default"},
        "vos": vos,
        "projects": project_ids,
        "pids": pids,
        "ports": {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()},
        "paths": {
            "config": str(layout.ckos_config), "mapping": str(layout.mapping_file),
            "openrc": str(layout.openrc), "images": str(layout.images_dir), "log_dir": str(layout.log_dir),
        },
        "venv": venv,
        "timings": timings,
    }  # fmt: skip


def write_all(layout: Layout, state: dict[str, Any]) -> None:
    """Write every output file; those with passwords are readable by their owner only."""
    write_private(layout.mapping_file, _mapping(state))
    write_private(layout.ckos_config, _ckos_config(layout, state))
    write_private(layout.openrc, _openrc(state))
    write_private(layout.state_file, json.dumps(state, indent=2) + "\n")


def _mapping(state: dict[str, Any]) -> str:
    mapping = {vo: {"project": project, "domain": "Default"} for vo, project in state["vos"].items()}
    return json.dumps(mapping, indent=2) + "\n"


def _toml(value: object) -> str:
    # A JSON string or list of strings is a valid TOML basic string or array.
    return json.dumps(value)


def _ckos_config(layout: Layout, state: dict[str, Any]) -> str:
    ckos = state["ckos"]
    return f"""\
# ckos configuration for the devcloud in {layout.dir}.
# Written by scripts/devcloud on every `up`; [server] keeps its defaults.

[catalog]
type = "glance"

[openstack]
auth_url = {_toml(state["keystone_url"])}
username = {_toml(ckos["username"])}
password = {_toml(ckos["password"])}
user_domain_name = {_toml(ckos["user_domain_name"])}
region_name = {_toml(state["region"])}
interface = "public"

[mapping]
file = {_toml(str(layout.mapping_file))}

[images]
local_directories = {_toml([str(layout.images_dir)])}

[logging]
level = "INFO"
"""


def _openrc(state: dict[str, Any]) -> str:
    admin = state["admin"]
    variables = {
        "OS_AUTH_URL": state["keystone_url"],
        "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": admin["username"],
        "OS_PASSWORD": admin["password"],
        "OS_USER_DOMAIN_NAME": admin["user_domain_name"],
        "OS_PROJECT_NAME": admin["project_name"],
        "OS_PROJECT_DOMAIN_NAME": admin["project_domain_name"],
        "OS_REGION_NAME": state["region"],
        "OS_INTERFACE": "public",
        "OS_IMAGE_API_VERSION": "2",
    }
    lines = [f"# Admin credentials of the devcloud in {state['dir']}: `. {state['paths']['openrc']}`"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
    return "\n".join(lines) + "\n"

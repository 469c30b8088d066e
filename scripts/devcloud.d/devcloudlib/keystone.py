"""Keystone: its configuration, the one-time keystone-manage setup, and idempotent seeding.

Seeding talks to the Keystone v3 REST API with urllib: each step looks up before it creates,
so running it again (every `up`) repairs and changes nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from devcloudlib import loopback
from devcloudlib.layout import Layout, Passwords, render
from devcloudlib.procs import SetupError, in_parallel, run_tool

REGION = "RegionOne"
DOMAIN_ID = "default"  # the id of Keystone's default domain (its name is "Default")
ADMIN_PROJECT = "admin"
SERVICE_PROJECT = "service"
CKOS_USER = "ckos"
CKOS_ROLES = ("member", "reader")
GLANCE_USER = "glance"
GLANCE_ROLES = ("service",)  # enough for keystonemiddleware to validate tokens
INTERFACES = ("public", "internal", "admin")


def write_config(layout: Layout) -> Path:
    """Write keystone.conf (on every `up`, so template changes apply); returns its path."""
    config = layout.keystone_dir / "etc" / "keystone.conf"
    render("keystone.conf", config, log_dir=str(layout.log_dir), keystone_dir=str(layout.keystone_dir))
    return config


def setup(
    layout: Layout, venv: Path, env: Mapping[str, str], *, url: str, admin_password: str, digest: str
) -> bool:
    """Create the database, keys and admin on first use; returns whether it had to.

    A marker holding the requirements hash makes later runs skip this (the four
    keystone-manage runs cost seconds, mostly Python imports), and re-run it after the
    OpenStack packages change (db_sync migrates; the others are idempotent).
    """
    marker = layout.keystone_dir / ".setup-done"
    if marker.exists() and marker.read_text().strip() == digest:
        return False
    config = layout.keystone_dir / "etc" / "keystone.conf"
    manage = [str(venv / "bin" / "keystone-manage"), "--config-file", str(config)]

    def step(name: str, *args: str, **extra_env: str) -> None:
        run_tool(f"keystone-manage {name}", [*manage, name, *args], layout.log_dir / f"keystone-{name}.log",
                 {**env, **extra_env}, layout.dir)  # fmt: skip

    # The keys need no database, so they are made while db_sync runs. They belong to whoever
    # runs devcloud (the folders get mode 0700, or Keystone warns on every request).
    owner = ("--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid()))
    in_parallel(
        lambda: step("db_sync"),
        lambda: step("fernet_setup", *owner),
        lambda: step("credential_setup", *owner),
    )
    # Through the environment, so the admin password is not on a command line.
    step("bootstrap", **{
        "OS_BOOTSTRAP_USERNAME": "admin", "OS_BOOTSTRAP_PASSWORD": admin_password,
        "OS_BOOTSTRAP_PROJECT_NAME": ADMIN_PROJECT, "OS_BOOTSTRAP_ROLE_NAME": "admin",
        "OS_BOOTSTRAP_SERVICE_NAME": "keystone", "OS_BOOTSTRAP_REGION_ID": REGION,
        "OS_BOOTSTRAP_ADMIN_URL": f"{url}/v3/", "OS_BOOTSTRAP_INTERNAL_URL": f"{url}/v3/",
        "OS_BOOTSTRAP_PUBLIC_URL": f"{url}/v3/",
    })  # fmt: skip
    marker.write_text(digest + "\n")
    return True


class KeystoneAPI:
    """The few Keystone v3 calls seeding needs, with a token of the admin."""

    def __init__(self, v3_url: str, token: str) -> None:
        self.v3_url = v3_url
        self.token = token

    @classmethod
    def login(cls, v3_url: str, username: str, password: str, project: str | None) -> tuple[KeystoneAPI, Any]:
        """Password authentication (scoped to `project` unless None); the API and token body."""
        answer = loopback.request(
            "POST", f"{v3_url}/auth/tokens", body=password_auth(username, password, project)
        )
        if answer.status != 201:
            raise SetupError(f"Keystone refused {username}: HTTP {answer.status} {answer.body[:300]!r}")
        return cls(v3_url, answer.headers["X-Subject-Token"]), answer.json()["token"]

    def call(self, method: str, path: str, body: object = None) -> Any:
        answer = loopback.request(method, self.v3_url + path, body=body, headers={"X-Auth-Token": self.token})
        if answer.status >= 300:
            raise SetupError(f"Keystone {method} {path}: HTTP {answer.status} {answer.body[:300]!r}")
        return answer.json() if answer.body else None

    def find_or_create(
        self, collection: str, query: Mapping[str, str], body: Mapping[str, object]
    ) -> dict[str, Any]:
        """The first of GET /<collection>?<query>, else what POST /<collection> made."""
        found = self.call("GET", f"/{collection}?{urlencode(query)}")[collection]
        if found:
            return dict(found[0])
        member = collection[:-1]
        return dict(self.call("POST", f"/{collection}", {member: dict(body)})[member])


def password_auth(username: str, password: str, project: str | None) -> dict[str, Any]:
    identity = {
        "methods": ["password"],
        "password": {"user": {"name": username, "domain": {"id": DOMAIN_ID}, "password": password}},
    }
    auth: dict[str, Any] = {"identity": identity}
    if project is not None:
        auth["scope"] = {"project": {"name": project, "domain": {"id": DOMAIN_ID}}}
    return {"auth": auth}


@dataclass(frozen=True)
class Seeded:
    admin_project_id: str
    project_ids: dict[str, str]  # name -> id, for every VO project


def seed(url: str, glance_url: str, passwords: Passwords, projects: list[str]) -> Seeded:
    """Make sure projects, users, roles and the catalog are as devcloud needs them."""
    v3 = f"{url}/v3"
    api, token = KeystoneAPI.login(v3, "admin", passwords.admin, ADMIN_PROJECT)
    roles = {role["name"]: role["id"] for role in api.call("GET", "/roles")["roles"]}
    project_ids = {name: _project(api, name) for name in projects}
    service_project = _project(api, SERVICE_PROJECT)
    ckos = _user(api, CKOS_USER, passwords.ckos, project_ids[projects[0]])
    for project_id in project_ids.values():
        for role in CKOS_ROLES:
            api.call("PUT", f"/projects/{project_id}/users/{ckos}/roles/{roles[role]}")
    glance = _user(api, GLANCE_USER, passwords.glance, service_project)
    for role in GLANCE_ROLES:
        api.call("PUT", f"/projects/{service_project}/users/{glance}/roles/{roles[role]}")
    # The identity endpoints came from bootstrap; on a restart at another port they move here.
    _endpoints(api, "identity", "keystone", f"{url}/v3/")
    _endpoints(api, "image", "glance", glance_url)
    return Seeded(admin_project_id=token["project"]["id"], project_ids=project_ids)


def _project(api: KeystoneAPI, name: str) -> str:
    body = {"name": name, "domain_id": DOMAIN_ID, "description": "made by scripts/devcloud"}
    return str(api.find_or_create("projects", {"name": name, "domain_id": DOMAIN_ID}, body)["id"])


def _user(api: KeystoneAPI, name: str, password: str, default_project: str) -> str:
    body = {"name": name, "domain_id": DOMAIN_ID, "password": password, "default_project_id": default_project}
    user = api.find_or_create("users", {"name": name, "domain_id": DOMAIN_ID}, body)
    # An existing user keeps its password unless it no longer works (e.g. secrets.json was
    # deleted): changing it revokes the user's tokens, which Glance may hold.
    answer = loopback.request("POST", f"{api.v3_url}/auth/tokens", body=password_auth(name, password, None))
    if answer.status == 401:
        api.call("PATCH", f"/users/{user['id']}", {"user": {"password": password, "enabled": True}})
    return str(user["id"])


def _endpoints(api: KeystoneAPI, service_type: str, name: str, url: str) -> None:
    body = {"type": service_type, "name": name, "enabled": True}
    service = api.find_or_create("services", {"type": service_type}, body)["id"]
    existing = {e["interface"]: e for e in api.call("GET", f"/endpoints?service_id={service}")["endpoints"]}
    for interface in INTERFACES:
        endpoint = existing.get(interface)
        wanted = {"url": url, "region_id": REGION, "interface": interface, "service_id": service}
        if endpoint is None:
            api.call("POST", "/endpoints", {"endpoint": wanted})
        elif endpoint["url"] != url or endpoint.get("region_id") != REGION:
            api.call("PATCH", f"/endpoints/{endpoint['id']}", {"endpoint": {"url": url, "region_id": REGION}})

"""Projects made for one test in the devcloud's Keystone, so that nothing else has images there."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from attrs import frozen

from support.devcloud import DevCloud
from support.glance_admin import unique_tag

CKOS_ROLES = ("member", "reader")  # as scripts/devcloud gives ckos in every VO project


@frozen
class ScratchProject:
    name: str
    id: str


@contextmanager
def scratch_project(cloud: DevCloud, prefix: str) -> Iterator[ScratchProject]:
    """A new project of the default domain where ckos has its roles; deleted afterwards.

    Delete its images first: Glance keeps the images of a deleted project.
    """
    session, v3 = cloud.admin_session(), cloud.keystone_url
    body = {"project": {"name": unique_tag(prefix), "domain_id": "default"}}
    made = session.post(f"{v3}/projects", json=body).json()["project"]
    try:
        user = session.get(f"{v3}/users?name={cloud.ckos.username}").json()["users"][0]["id"]
        roles = {role["name"]: role["id"] for role in session.get(f"{v3}/roles").json()["roles"]}
        for role in CKOS_ROLES:
            session.put(f"{v3}/projects/{made['id']}/users/{user}/roles/{roles[role]}")
        yield ScratchProject(name=made["name"], id=made["id"])
    finally:
        session.delete(f"{v3}/projects/{made['id']}")

"""One Keystone session and Glance client per mapped project, created once and reused."""

from __future__ import annotations

import threading
from typing import Any

from attrs import field, frozen
from glanceclient import Client as GlanceClient
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from ckos.adapters.glance.errors import translated
from ckos.domain.errors import CatalogPermissionDenied
from ckos.domain.model import ProjectRef

_KEYSTONE_DEFAULT_DOMAIN_ID = "default"


@frozen
class Credentials:
    """How the service user authenticates to Keystone (password or application credential)."""

    auth_url: str
    username: str = ""
    password: str = field(default="", repr=False)
    user_domain_name: str = "Default"
    application_credential_id: str = ""
    application_credential_secret: str = field(default="", repr=False)
    region_name: str = ""
    interface: str = "public"
    verify: bool | str = True  # False, True, or the path of a CA bundle
    timeout: float = 60.0
    # The image endpoint to use instead of the catalog's (e.g. an internal address).
    endpoint_override: str = ""


@frozen
class ProjectClient:
    """A Glance client scoped to one project, its Keystone session, and the project's id."""

    glance: Any  # glanceclient ships no type information
    session: ks_session.Session
    project_id: str


class ProjectClients:
    """Lazily authenticates once per project; keystoneauth1 renews the tokens."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self._lock = threading.Lock()
        self._clients: dict[ProjectRef, ProjectClient] = {}
        self._connecting: dict[ProjectRef, threading.Lock] = {}

    def client(self, project: ProjectRef) -> ProjectClient:
        with self._lock:
            found = self._clients.get(project)
            connecting = self._connecting.setdefault(project, threading.Lock())
        if found is not None:
            return found
        # Concurrent first calls for a project wait for one authentication instead of each
        # making its own; other projects are not held up.
        with connecting:
            with self._lock:
                found = self._clients.get(project)
            if found is None:
                found = self._connect(project)
                with self._lock:
                    self._clients[project] = found
            return found

    def _connect(self, project: ProjectRef) -> ProjectClient:
        credentials = self._credentials
        auth = self._auth(project)
        session = ks_session.Session(auth=auth, verify=credentials.verify, timeout=credentials.timeout)
        with translated(f"authenticating to project {project}"):
            access = auth.get_access(session)
        project_id = access.project_id
        # An application credential carries its own project: it must be the one mapped, or
        # another project's images would be listed and changed under this one's name.
        if not project_id or not _scoped_to(project, access):
            raise CatalogPermissionDenied(f"the credentials are not scoped to project {project}")
        glance = GlanceClient(
            "2",
            session=session,
            interface=credentials.interface,
            region_name=credentials.region_name or None,
            endpoint_override=credentials.endpoint_override or None,
        )
        return ProjectClient(glance=glance, session=session, project_id=project_id)

    def _auth(self, project: ProjectRef) -> v3.Auth:
        credentials = self._credentials
        if credentials.application_credential_id:
            # An application credential is bound to the project it was made in.
            return v3.ApplicationCredential(
                auth_url=credentials.auth_url,
                application_credential_id=credentials.application_credential_id,
                application_credential_secret=credentials.application_credential_secret,
            )
        scope: dict[str, Any] = {}
        if project.id:
            scope["project_id"] = project.id
        else:
            scope["project_name"] = project.name or ""
            domain = project.domain or _KEYSTONE_DEFAULT_DOMAIN_ID
            # "default" is the id of Keystone's default domain; other values are domain names.
            by_id = domain == _KEYSTONE_DEFAULT_DOMAIN_ID
            scope["project_domain_id" if by_id else "project_domain_name"] = domain
        return v3.Password(
            auth_url=credentials.auth_url,
            username=credentials.username,
            password=credentials.password,
            user_domain_name=credentials.user_domain_name,
            **scope,
        )


def _scoped_to(project: ProjectRef, access: Any) -> bool:
    """Whether the token's scope is the project, named by id or by name within a domain."""
    if project.id:
        return bool(access.project_id == project.id)
    if access.project_name != project.name:
        return False
    # The mapping names the domain by id ("default") or by name ("Default").
    return project.domain is None or project.domain in (access.project_domain_id, access.project_domain_name)

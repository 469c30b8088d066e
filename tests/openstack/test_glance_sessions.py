"""The Glance adapter's Keystone side on the devcloud: sessions per project, auth, unreachable services."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ckos.adapters.glance.catalog import GlanceCatalog
from ckos.adapters.glance.sessions import ProjectClients
from ckos.domain.errors import CatalogPermissionDenied, CatalogUnavailable
from ckos.domain.model import ProjectRef
from support.appliances import UBUNTU, live
from support.glance_admin import ckos_credentials
from support.glance_testbed import FEDCLOUD, OTHER, GlanceTestbed
from support.request_log import Request, record_requests


@pytest.fixture
def http_log(monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    return record_requests(monkeypatch)


def token_requests(log: list[Request]) -> list[Request]:
    return [r for r in log if r.method == "POST" and r.url.endswith("/auth/tokens")]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 where nothing listens (held, so nothing else takes it meanwhile)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def test_each_project_authenticates_once_and_reuses_its_session(
    testbed: GlanceTestbed, http_log: list[Request]
) -> None:
    clients = ProjectClients(ckos_credentials(testbed.cloud))
    catalog = testbed.catalog(clients)
    # Concurrent first calls, as gRPC calls in threads make them after a start.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: catalog.list_images((FEDCLOUD, OTHER)[n % 2]), range(16)))
    image_id = live(catalog, FEDCLOUD)
    catalog.retire(FEDCLOUD, image_id, 1700000000)
    catalog.delete_image(FEDCLOUD, image_id)
    catalog.list_images(OTHER)
    tokens = token_requests(http_log)
    assert len(tokens) == 2
    assert clients.client(FEDCLOUD) is clients.client(FEDCLOUD)
    sessions = {id(clients.client(project).session) for project in (FEDCLOUD, OTHER)}
    assert {id(r.session) for r in http_log} == sessions
    assert len(sessions) == 2


@pytest.mark.parametrize(
    "how",
    [
        lambda ids: ProjectRef(name="fedcloud", domain="default"),  # the default domain's id
        lambda ids: ProjectRef(name="fedcloud", domain="Default"),  # its name
        lambda ids: ProjectRef(name="fedcloud"),
        lambda ids: ProjectRef(id=ids["fedcloud"]),
    ],
    ids=["name-and-domain-id", "name-and-domain-name", "name-only", "id"],
)
def test_a_project_is_found_by_name_and_domain_or_by_id(testbed: GlanceTestbed, how: Any) -> None:
    project: ProjectRef = how(testbed.cloud.projects)
    clients = ProjectClients(ckos_credentials(testbed.cloud))
    catalog = testbed.catalog(clients)
    image_id = catalog.create_image(project, UBUNTU)
    assert clients.client(project).project_id == testbed.cloud.projects["fedcloud"]
    assert testbed.admin.record(image_id).owner == testbed.cloud.projects["fedcloud"]
    # The same images, whichever way the project is named.
    assert [image.image_id for image in testbed.catalog().list_images(FEDCLOUD)] == [image_id]


def test_a_wrong_password_is_permission_denied(testbed: GlanceTestbed) -> None:
    catalog = GlanceCatalog(ProjectClients(ckos_credentials(testbed.cloud, password="wrong")))
    with pytest.raises(CatalogPermissionDenied, match="fedcloud: Keystone refused the credentials"):
        catalog.list_images(FEDCLOUD)


def test_a_project_the_user_has_no_role_in_is_permission_denied(testbed: GlanceTestbed) -> None:
    with pytest.raises(CatalogPermissionDenied):
        testbed.catalog().list_images(ProjectRef(name="admin", domain="default"))
    with pytest.raises(CatalogPermissionDenied):
        testbed.catalog().list_images(ProjectRef(name="no-such-project", domain="default"))


def test_keystone_unreachable_is_unavailable(testbed: GlanceTestbed, closed_port: int) -> None:
    credentials = ckos_credentials(testbed.cloud, auth_url=f"http://127.0.0.1:{closed_port}/v3")
    with pytest.raises(CatalogUnavailable, match="fedcloud"):
        GlanceCatalog(ProjectClients(credentials)).list_images(FEDCLOUD)


def test_glance_unreachable_is_unavailable(testbed: GlanceTestbed, closed_port: int) -> None:
    credentials = ckos_credentials(testbed.cloud, endpoint_override=f"http://127.0.0.1:{closed_port}")
    catalog = GlanceCatalog(ProjectClients(credentials))
    with pytest.raises(CatalogUnavailable, match="listing the images"):
        catalog.list_images(FEDCLOUD)
    with pytest.raises(CatalogUnavailable):
        catalog.create_image(FEDCLOUD, UBUNTU)


def test_glance_answering_nothing_is_unavailable_after_the_timeout(testbed: GlanceTestbed) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        credentials = ckos_credentials(testbed.cloud, endpoint_override=endpoint, timeout=0.5)
        began = time.monotonic()
        with pytest.raises(CatalogUnavailable):
            GlanceCatalog(ProjectClients(credentials)).list_images(FEDCLOUD)
        assert time.monotonic() - began < 10


class _Failing(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


class _ProxyFailing(_Failing):
    # A proxy's error body: JSON, but not shaped like Glance's (glanceclient trips on it).
    body = b'{"message": "upstream unavailable", "code": 503}'


@pytest.mark.parametrize("answer", [_Failing, _ProxyFailing])
def test_glance_failing_with_5xx_is_unavailable(
    testbed: GlanceTestbed, answer: type[BaseHTTPRequestHandler]
) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), answer) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        endpoint = f"http://127.0.0.1:{server.server_port}"
        credentials = ckos_credentials(testbed.cloud, endpoint_override=endpoint)
        try:
            with pytest.raises(CatalogUnavailable, match=r"HTTP 503|could not read"):
                GlanceCatalog(ProjectClients(credentials)).list_images(FEDCLOUD)
        finally:
            server.shutdown()

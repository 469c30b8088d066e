"""REMOTE image downloads: streamed with basic auth, bounded, and never leaking credentials."""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckos.adapters.image_data.local import LocalImageFiles
from ckos.adapters.image_data.remote import RemoteImageDownloads
from ckos.adapters.image_data.sources import ImageSources
from ckos.domain.errors import SourceForbidden, SourceUnavailable
from ckos.domain.model import ImageSource, TransferMode
from ckos.domain.ports import Readable

CONTENT = bytes(range(256)) * 1000
USER, PASSWORD = "0d2c4e6a-user", "9f8e7d6c-secret"
URL = "http://127.0.0.1:8080/images/ubuntu.qcow2"
Handler = Callable[[httpx.Request], httpx.Response]


def remote(location: str = URL, username: str = USER, password: str = PASSWORD) -> ImageSource:
    return ImageSource(mode=TransferMode.REMOTE, location=location, username=username, password=password)


def downloads(
    handler: Handler, *, allowed_hosts: tuple[str, ...] = (), max_redirects: int = 5
) -> RemoteImageDownloads:
    transport = httpx.MockTransport(handler)
    return RemoteImageDownloads(allowed_hosts=allowed_hosts, max_redirects=max_redirects, transport=transport)


def read_all(stream: Readable) -> bytes:
    chunks = []
    while chunk := stream.read(65536):
        assert len(chunk) <= 65536
        chunks.append(chunk)
    return b"".join(chunks)


def fetch(reader: RemoteImageDownloads, source: ImageSource) -> bytes:
    with reader.open(source) as stream:
        return read_all(stream)


def serve(seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=CONTENT)

    return handler


def assert_secret_free(error: BaseException) -> None:
    assert USER not in str(error)
    assert PASSWORD not in str(error)


def test_the_body_is_streamed_with_basic_auth() -> None:
    seen: list[httpx.Request] = []
    assert fetch(downloads(serve(seen)), remote()) == CONTENT
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert seen[0].headers["Authorization"] == f"Basic {token}"
    assert seen[0].headers["Accept-Encoding"] == "identity"


def test_credentials_in_the_url_are_used_but_not_kept_in_it() -> None:
    seen: list[httpx.Request] = []
    location = f"http://{USER}:{PASSWORD}@127.0.0.1:8080/images/ubuntu.qcow2"
    assert fetch(downloads(serve(seen)), remote(location, "", "")) == CONTENT
    assert seen[0].url == httpx.URL(URL)
    assert seen[0].headers["Authorization"].startswith("Basic ")


def test_no_credentials_means_no_authorization_header() -> None:
    seen: list[httpx.Request] = []
    fetch(downloads(serve(seen)), remote(username="", password=""))
    assert "Authorization" not in seen[0].headers


def test_read_without_size_returns_the_rest() -> None:
    with downloads(serve([])).open(remote()) as stream:
        assert stream.read(10) == CONTENT[:10]
        assert stream.read() == CONTENT[10:]
        assert stream.read(10) == b""


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(st.integers(min_value=1, max_value=3000), min_size=0, max_size=12),
    reads=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=8),
)
def test_reads_of_any_size_return_exactly_the_body_whatever_pieces_it_arrives_in(
    pieces: list[int], reads: list[int]
) -> None:
    body = bytes(n % 251 for n in range(sum(pieces)))
    offsets = [sum(pieces[:n]) for n in range(len(pieces) + 1)]

    def handler(request: httpx.Request) -> httpx.Response:
        stream = [body[start:end] for start, end in itertools.pairwise(offsets)]
        return httpx.Response(200, stream=httpx.ByteStream(b"") if not stream else _Pieces(stream))

    received = b""
    with downloads(handler).open(remote()) as stream:
        for size in itertools.cycle(reads):
            chunk = stream.read(size)
            assert len(chunk) == min(size, len(body) - len(received))
            if not chunk:
                break
            received += chunk
    assert received == body


class _Pieces(httpx.SyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
def test_an_http_error_names_the_status_and_no_credentials(status: int) -> None:
    reader = downloads(lambda request: httpx.Response(status))
    with pytest.raises(
        SourceUnavailable, match=f"127.0.0.1:8080/images/ubuntu.qcow2 answered HTTP {status}"
    ) as raised:
        fetch(reader, remote(f"http://{USER}:{PASSWORD}@127.0.0.1:8080/images/ubuntu.qcow2?token=x"))
    assert_secret_free(raised.value)
    assert "token" not in str(raised.value)


def test_a_host_not_allowed_is_forbidden_before_any_request() -> None:
    seen: list[httpx.Request] = []
    reader = downloads(serve(seen), allowed_hosts=("core.example.org",))
    with pytest.raises(SourceForbidden, match=r"127\.0\.0\.1 is not among the allowed hosts"):
        fetch(reader, remote())
    assert seen == []
    assert fetch(reader, remote("http://CORE.example.org/x.img")) == CONTENT


def test_every_redirect_is_checked_against_the_allowed_hosts() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": "http://evil.example.org/x"})
        return httpx.Response(200, content=CONTENT)

    with pytest.raises(SourceForbidden, match=r"evil\.example\.org"):
        fetch(downloads(handler, allowed_hosts=("127.0.0.1",)), remote("http://127.0.0.1/start"))
    assert [request.url.host for request in seen] == ["127.0.0.1"]


def test_a_redirect_elsewhere_drops_the_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "127.0.0.1":
            return httpx.Response(302, headers={"Location": "http://mirror.example.org/x"})
        return httpx.Response(200, content=CONTENT)

    assert fetch(downloads(handler), remote("http://127.0.0.1/start")) == CONTENT
    assert "Authorization" in seen[0].headers
    assert "Authorization" not in seen[1].headers


def test_redirects_are_bounded() -> None:
    reader = downloads(lambda request: httpx.Response(302, headers={"Location": "/again"}), max_redirects=3)
    with pytest.raises(SourceUnavailable, match="download failed"):
        fetch(reader, remote())


def test_a_network_error_is_unavailable_and_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url} as {USER}:{PASSWORD}")

    with pytest.raises(SourceUnavailable, match="download failed: cannot reach") as raised:
        fetch(downloads(handler), remote())
    assert_secret_free(raised.value)


class _BrokenBody(httpx.SyncByteStream):
    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield CONTENT[:1000]
        raise httpx.ReadError(f"connection reset ({PASSWORD})")

    def close(self) -> None:
        self.closed = True


def test_an_error_in_the_body_is_unavailable_and_the_response_is_closed() -> None:
    body = _BrokenBody()
    reader = downloads(lambda request: httpx.Response(200, stream=body))
    with pytest.raises(SourceUnavailable, match="connection reset") as raised:
        fetch(reader, remote())
    assert_secret_free(raised.value)
    assert body.closed


@pytest.mark.parametrize(
    ("location", "error"),
    [("ftp://127.0.0.1/x.img", SourceForbidden), ("http://[::1/x", SourceUnavailable)],
)
def test_only_http_urls_are_fetched(location: str, error: type[Exception]) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(error):
        fetch(downloads(serve(seen)), remote(location))
    assert seen == []


def test_a_local_source_is_not_fetched() -> None:
    with pytest.raises(SourceUnavailable, match="REMOTE"):
        fetch(downloads(serve([])), ImageSource(mode=TransferMode.LOCAL, location="/var/spool/x.img"))


def test_image_sources_pick_the_reader_of_the_mode() -> None:
    seen: list[httpx.Request] = []
    sources = ImageSources(local=LocalImageFiles([]), remote=downloads(serve(seen)))
    with sources.open(remote()) as stream:
        assert read_all(stream) == CONTENT
    with (
        pytest.raises(SourceForbidden),
        sources.open(ImageSource(mode=TransferMode.LOCAL, location="/etc/hosts")),
    ):
        pass


class _Server(BaseHTTPRequestHandler):
    delay = 0.0

    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(CONTENT)))
        self.end_headers()
        self.wfile.write(CONTENT[:100])
        self.wfile.flush()
        time.sleep(self.delay)
        self.wfile.write(CONTENT[100:])

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    _Server.delay = 0.0


def test_a_real_server_streams_the_file(server: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{server.server_port}/image.qcow2"
    assert fetch(RemoteImageDownloads(), remote(url)) == CONTENT
    with pytest.raises(SourceUnavailable, match="HTTP 401"):
        fetch(RemoteImageDownloads(), remote(url, password="wrong"))


def test_a_stalled_server_times_out(server: ThreadingHTTPServer) -> None:
    _Server.delay = 2.0
    url = f"http://127.0.0.1:{server.server_port}/image.qcow2"
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="download failed"):
        fetch(RemoteImageDownloads(read_timeout=0.2), remote(url))
    assert time.monotonic() - started < 1.5


def test_a_refused_connection_is_unavailable(server: ThreadingHTTPServer) -> None:
    port = server.server_port
    server.shutdown()
    server.server_close()
    with pytest.raises(SourceUnavailable, match="download failed"):
        fetch(RemoteImageDownloads(connect_timeout=1.0), remote(f"http://127.0.0.1:{port}/x"))

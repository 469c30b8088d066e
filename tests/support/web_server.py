"""A plain web server on 127.0.0.1 (http, or https with a test certificate) for image lists and images.

with WebServer() as web:
    web.files["/image.list"] = signed
    web.status["/image.list"] = 503                  # answer this instead
    web.cut["/disk.img"] = 100                       # send this many bytes, then drop the socket
    web.require["/image.list"] = "Basic ..."         # 401 without this Authorization header
    web.url("/image.list"); web.requests             # [(path, Authorization or None)]
"""

from __future__ import annotations

import socket
import ssl
from contextlib import suppress
from http.server import BaseHTTPRequestHandler
from types import TracebackType

from attrs import define, field

from support.certificates import Identity
from support.threaded_http import ThreadedHttp


@define
class WebServer:
    tls: Identity | None = None
    files: dict[str, bytes] = field(factory=dict)
    status: dict[str, int] = field(factory=dict)
    cut: dict[str, int] = field(factory=dict)
    require: dict[str, str] = field(factory=dict)
    requests: list[tuple[str, str | None]] = field(factory=list)
    _server: ThreadedHttp | None = None

    def url(self, path: str) -> str:
        assert self._server is not None, "the server is not running"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def __enter__(self) -> WebServer:
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.certificate, self.tls.key)
        self._server = ThreadedHttp(_handler_for(self), tls=context)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop()


def closed_port_url(path: str) -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def _handler_for(server: WebServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            authorization = self.headers.get("Authorization")
            server.requests.append((path, authorization))
            required = server.require.get(path)
            if required is not None and authorization != required:
                self._empty(401)
                return
            if path in server.status:
                self._empty(server.status[path])
                return
            content = server.files.get(path)
            if content is None:
                self._empty(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            with suppress(OSError):
                if path in server.cut:
                    self.wfile.write(content[: server.cut[path]])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(content)

        def _empty(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler

"""A web server on 127.0.0.1 offering image files behind HTTP basic auth, as the core's per-call
nginx does for REMOTE transfers (wire contract §3), with the faults a real one can show.

    with ImageServer("user", "secret") as server:
        server.offer("/image.qcow2", data)           # bytes, or a Path streamed from disk
        server.fault = Fault(die_after=4096)         # or status=401, delay=..., gate_after=...
        url = server.url("/image.qcow2")
        ...
        server.requests                              # every request seen, with its credentials' fate
"""

from __future__ import annotations

import base64
import io
import ssl
import threading
import time
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from attrs import define, field, frozen

from support.certificates import Identity

CHUNK = 1024 * 1024
GATE_TIMEOUT = 60.0  # a gate never released lets the request end instead of hanging the suite


@frozen
class Fault:
    """How the server misbehaves; the default is not at all."""

    status: int | None = None  # answer this instead of the file (after the credentials check)
    die_after: int | None = None  # announce the full length, send this many bytes, drop the socket
    delay: float = 0.0  # seconds to wait before each chunk of `chunk` bytes
    chunk: int = CHUNK
    gate_after: int | None = None  # send this many bytes, then wait until `gate` is set


@frozen
class SeenRequest:
    path: str
    authorized: bool  # carried the expected basic-auth credentials


@define
class ImageServer:
    username: str
    password: str
    tls: Identity | None = None  # serve https with this certificate
    fault: Fault = Fault()
    requests: list[SeenRequest] = field(factory=list)
    gate: threading.Event = field(factory=threading.Event)  # released by the test (see Fault)
    sending: threading.Event = field(factory=threading.Event)  # set when a body starts to flow
    held: threading.Event = field(factory=threading.Event)  # set when a response waits at the gate
    open_connections: int = 0  # connections the client has not closed yet
    _files: dict[str, bytes | Path] = field(factory=dict)
    _lock: threading.Lock = field(factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def offer(self, path: str, content: bytes | Path) -> None:
        self._files[path] = content

    def url(self, path: str, *, credentials: bool = False) -> str:
        userinfo = f"{self.username}:{self.password}@" if credentials else ""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}{path}"

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_port

    def start(self) -> ImageServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.certificate, self.tls.key)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="image-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.gate.set()  # a response held at the gate may finish or fail, never hang
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ImageServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _connected(self, change: int) -> None:
        with self._lock:
            self.open_connections += change

    def _authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    def _content(self, path: str) -> bytes | Path | None:
        return self._files.get(path)


def _handler_for(server: ImageServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as nginx: the client must close

        def setup(self) -> None:
            server._connected(+1)
            super().setup()

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                server._connected(-1)

        def do_GET(self) -> None:
            authorized = server._authorized(self.headers.get("Authorization"))
            server.requests.append(SeenRequest(self.path, authorized))
            fault = server.fault
            if not authorized:
                self._empty(401, {"WWW-Authenticate": 'Basic realm="images"'})
                return
            if fault.status is not None:
                self._empty(fault.status)
                return
            content = server._content(self.path)
            if content is None:
                self._empty(404)
                return
            size = len(content) if isinstance(content, bytes) else content.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            server.sending.set()
            if isinstance(content, Path) and fault == Fault():
                with content.open("rb") as file:
                    self.connection.sendfile(file, 0, size)  # as fast as the benchmark needs
                return
            with content.open("rb") if isinstance(content, Path) else io.BytesIO(content) as stream:
                self._send(stream, size, fault)

        def _send(self, stream: BinaryIO, size: int, fault: Fault) -> None:
            sent = 0
            while sent < size:
                if fault.gate_after is not None and sent >= fault.gate_after and not server.gate.is_set():
                    server.held.set()
                    server.gate.wait(GATE_TIMEOUT)
                if fault.die_after is not None and sent >= fault.die_after:
                    self._drop()
                    return
                limit = min(fault.chunk, size - sent)
                for stop in (fault.die_after, fault.gate_after):
                    if stop is not None and sent < stop:
                        limit = min(limit, stop - sent)
                if fault.delay:
                    time.sleep(fault.delay)
                data = stream.read(limit)
                try:
                    self.wfile.write(data)
                except OSError:  # the client went away: nothing more to do
                    return
                sent += len(data)

        def _drop(self) -> None:
            """Close the connection mid-body, as a dying server does."""
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(2)  # SHUT_RDWR
            self.connection.close()

        def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # the suite's output stays clean; `requests` records what came

    return Handler

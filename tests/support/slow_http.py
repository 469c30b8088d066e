"""A local HTTP server offering one image as the core's REMOTE mode does: basic auth, and slow if asked."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from attrs import define, field


@define
class ServedImage:
    url: str
    requested: threading.Event = field(factory=threading.Event)  # set once a download has begun
    refused: list[str] = field(factory=list)  # Authorization headers refused (None as "")


@contextmanager
def serving(
    content: bytes,
    *,
    credentials: tuple[str, str] | None = None,
    chunk: int = 65536,
    delay: float = 0.0,
) -> Iterator[ServedImage]:
    """Serve `content` at http://127.0.0.1:PORT/image.qcow2, `chunk` bytes every `delay` seconds."""
    expected = None
    if credentials is not None:
        expected = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
    stopping = threading.Event()
    served: list[ServedImage] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            image = served[0]
            given = self.headers.get("Authorization", "")
            if expected is not None and given != expected:
                image.refused.append(given)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="images"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            image.requested.set()
            for start in range(0, len(content), chunk):
                if stopping.is_set():
                    return
                self.wfile.write(content[start : start + chunk])
                time.sleep(delay)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    served.append(ServedImage(url=f"http://127.0.0.1:{server.server_port}/image.qcow2"))
    thread = threading.Thread(target=server.serve_forever, name="slow-http", daemon=True)
    thread.start()
    try:
        yield served[0]
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""A reverse proxy in front of the devcloud's Glance that can refuse image uploads half way, as a
Glance over its size cap or quota (413) or a failing one (5xx) does, or answer chosen requests
with an error of Glance's kind (an HTML page from webob); every other request goes through.

    with GlanceProxy(cloud.glance_url) as proxy:
        ...  # ckos with Credentials(endpoint_override=proxy.url)
        proxy.refuse_uploads = 413          # from now on: read part of the body, answer 413, close
        proxy.refuse("PATCH", IMAGE, 409)   # from now on: the body read, 409 answered, nothing done
        proxy.refused                       # [(method, path)] refused so far

Bodies are small in the tests that use it: requests and responses are buffered whole.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from contextlib import suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

LISTING = re.compile(r"^/v2/images(\?.*)?$")
IMAGE = re.compile(r"^/v2/images/[0-9a-f-]+$")
UPLOAD = re.compile(r"^/v2/images/[0-9a-f-]+/file$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}
READ_BEFORE_REFUSING = 256 * 1024  # Glance reads until the cap is crossed, then answers


class GlanceProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.refuse_uploads: int | None = None  # the status uploads get, when set
        self.rules: list[tuple[str, re.Pattern[str], int]] = []  # (method, path, status) answered whole
        self.refused: list[tuple[str, str]] = []  # (method, path) of every request refused
        # When set, a DELETE of an image is done, then answered as Glance answers the second of two
        # deletes racing each other: 400 "Image status transition from deleted to deleted".
        self.race_deletes = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="glance-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def refuse(self, method: str, path: re.Pattern[str], status: int) -> None:
        """Answer every later `method` request on a matching path with `status`, doing nothing."""
        self.rules.append((method, path, status))

    def clear(self) -> None:
        self.rules.clear()

    def status_for(self, method: str, path: str) -> int | None:
        return next(
            (status for m, pattern, status in self.rules if m == method and pattern.match(path)), None
        )

    def __enter__(self) -> GlanceProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


def _handler_for(proxy: GlanceProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._forward()

        do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def _forward(self) -> None:
            if self.command == "PUT" and UPLOAD.match(self.path) and proxy.refuse_uploads is not None:
                self._refuse(proxy.refuse_uploads)
                return
            lost_race = self.command == "DELETE" and IMAGE.match(self.path) and proxy.race_deletes
            body = self._body()
            status = proxy.status_for(self.command, self.path)
            if status is not None:
                proxy.refused.append((self.command, self.path))
                self._answer(status, "refused by the test proxy")
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                content = answer.read()
            finally:
                upstream.close()
            if lost_race:
                self._answer(400, "Image status transition from deleted to deleted is not allowed")
                return
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(parts)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _answer(self, status: int, text: str) -> None:
            title = f"{status} {HTTPStatus(status).phrase}"
            page = f"<html>\n <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n"
            content = f"{page}  {text}<br /><br />\n\n\n\n </body>\n</html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=UTF-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _refuse(self, status: int) -> None:
            """Read a part of the upload, answer `status`, and close as a server giving up does:
            the answer first, then a lingering close so that the client can still read it."""
            proxy.refused.append((self.command, self.path))
            with suppress(OSError):
                self.rfile.read1(READ_BEFORE_REFUSING)
            title = f"{status} {HTTPStatus(status).phrase}"
            # Glance's errors come from webob, as HTML pages (glanceclient reads the text out).
            content = (
                f"<html>\n <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n"
                f"  refused by the test proxy<br /><br />\n\n\n\n </body>\n</html>"
            )
            self.close_connection = True
            with suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=UTF-8")
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(content.encode())
                self.connection.shutdown(socket.SHUT_WR)
                self.connection.settimeout(2)
                while self.connection.recv(65536):  # drain what the client still sends
                    pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler

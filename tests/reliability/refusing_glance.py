"""A reverse proxy in front of the devcloud's Glance that answers chosen requests with an error of
Glance's kind (an HTML page from webob) instead of passing them on; every other request goes through.

    with RefusingGlance(cloud.glance_url) as proxy:
        proxy.refuse("PATCH", IMAGE, 409)       # from now on: the body read, 409 answered, nothing done
        proxy.refused                           # [(method, path)] refused so far

tests/support/glance_proxy.py refuses uploads half way; this one refuses any request, whole.
"""

from __future__ import annotations

import http.client
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from urllib.parse import urlsplit

from attrs import define, field

from support.threaded_http import ThreadedHttp

LISTING = re.compile(r"^/v2/images(\?.*)?$")
IMAGE = re.compile(r"^/v2/images/[0-9a-f-]+$")
UPLOAD = re.compile(r"^/v2/images/[0-9a-f-]+/file$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


@define
class Rule:
    method: str
    path: re.Pattern[str]
    status: int


@define
class RefusingGlance:
    upstream: str
    rules: list[Rule] = field(factory=list)
    refused: list[tuple[str, str]] = field(factory=list)
    _server: ThreadedHttp | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    def refuse(self, method: str, path: re.Pattern[str], status: int) -> None:
        self.rules.append(Rule(method, path, status))

    def clear(self) -> None:
        self.rules.clear()

    def status_for(self, method: str, path: str) -> int | None:
        return next((r.status for r in self.rules if r.method == method and r.path.match(path)), None)

    def __enter__(self) -> RefusingGlance:
        self._server = ThreadedHttp(_handler_for(self))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop()


def _handler_for(proxy: RefusingGlance) -> type[BaseHTTPRequestHandler]:
    parts = urlsplit(proxy.upstream)
    upstream = (parts.hostname or "127.0.0.1", parts.port or 80)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = self._body()
            status = proxy.status_for(self.command, self.path)
            if status is not None:
                proxy.refused.append((self.command, self.path))
                self._answer(status)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection = http.client.HTTPConnection(*upstream, timeout=60)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                content = answer.read()
            finally:
                connection.close()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                pieces = []
                for _ in range(1_000_000):  # bounded: 1 MiB chunks would be a terabyte
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        break
                    pieces.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(pieces)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _answer(self, status: int) -> None:
            title = f"{status} {HTTPStatus(status).phrase}"
            page = f"<html>\n <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n"
            content = f"{page}  refused by the test proxy<br /><br />\n\n\n\n </body>\n</html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=UTF-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler

"""A proxy on 127.0.0.1 in front of a test registry, adding what distribution 2.8 lacks.

Debian's registry (distribution 2.8) ignores `?n=` on tag lists: Harbor and distribution 3 page
them with `Link: <...>; rel="next"`. The proxy pages tag lists the same way (relative links, or
absolute ones), and can answer blob requests with a 307 to a second origin (as Harbor on object
storage does), which serves the bytes from the registry's storage and records the headers it got.
Everything else, authentication included, is passed through unchanged.

    with RegistryProxy(registry) as proxy:
        proxy.url                       # point the client here
        proxy.absolute_links = True
        proxy.redirect_blobs = True
        proxy.tag_pages                 # the tag-list URLs served (200), in order
        proxy.mirror_requests           # (path, Authorization header or "") seen by the other origin
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from attrs import define, field

from support.registry import Registry

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@define
class RegistryProxy:
    registry: Registry
    absolute_links: bool = False
    redirect_blobs: bool = False
    tag_pages: list[str] = field(factory=list)
    mirror_requests: list[tuple[str, str]] = field(factory=list)
    _servers: list[ThreadingHTTPServer] = field(factory=list)
    _threads: list[threading.Thread] = field(factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_port}"

    @property
    def mirror_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[1].server_port}"

    def start(self) -> RegistryProxy:
        for handler in (_proxy_handler(self), _mirror_handler(self)):
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RegistryProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, t: TracebackType | None
    ) -> None:
        self.stop()


def _proxy_handler(proxy: RegistryProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if proxy.redirect_blobs and "/blobs/" in path:
                digest = path.rsplit("/", 1)[1]
                self._answer(307, {"Location": f"{proxy.mirror_url}/mirror/{digest}?X-Signature=abc"}, b"")
            elif path.endswith("/tags/list"):
                self._tags(path)
            else:
                self._forward()

        def do_HEAD(self) -> None:
            self._forward()

        def _tags(self, path: str) -> None:
            query = parse_qs(urlsplit(self.path).query)
            status, headers, body = self._upstream(path)
            if status == 200:
                proxy.tag_pages.append(self.path)
            if status != 200 or "n" not in query:
                self._answer(status, headers, body)
                return
            everything = sorted(json.loads(body)["tags"] or [])
            last, size = query.get("last", [""])[0], int(query["n"][0])
            rest = [t for t in everything if t > last] if last else everything
            page, more = rest[:size], rest[size:]
            if more:
                link = f"{path}?{urlencode({'n': size, 'last': page[-1]})}"
                if proxy.absolute_links:
                    link = proxy.url + link
                headers["Link"] = f'<{link}>; rel="next"'
            self._answer(200, headers, json.dumps({"name": json.loads(body)["name"], "tags": page}).encode())

        def _forward(self) -> None:
            status, headers, body = self._upstream(self.path)
            self._answer(status, headers, body)

        def _upstream(self, path: str) -> tuple[int, dict[str, str], bytes]:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            response = httpx.request(self.command, proxy.registry.url + path, headers=headers, timeout=30.0)
            kept = {k: v for k, v in response.headers.multi_items() if k.lower() not in _HOP_HEADERS}
            return response.status_code, kept, response.content

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _mirror_handler(proxy: RegistryProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            proxy.mirror_requests.append((path, self.headers.get("Authorization", "")))
            body = proxy.registry.blob_file(path.rsplit("/", 1)[1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler

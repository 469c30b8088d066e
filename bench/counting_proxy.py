"""A forwarding proxy that counts the requests passing through it, for `bench/sync_oci.py`.

Put in front of Glance (`[openstack] glance_endpoint = <proxy url>`) or Keystone
(`[openstack] auth_url = <proxy url>/v3`), it forwards every request unchanged and counts it by
method and path (ids replaced by `{id}`), with the bytes of its body. Request bodies are streamed
(an image upload passes through in 1 MiB pieces, never buffered whole); responses, small for
every call the benchmark counts, are buffered.

    with CountingProxy(cloud.glance_url) as glance:
        ...  # cloudkeeper-os sync with glance_endpoint = glance.url
        glance.calls        # Counter({"GET /v2/images": 2, ...})
        glance.writes()     # requests other than GET and HEAD
"""

from __future__ import annotations

import http.client
import re
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from types import TracebackType
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}
PIECE = 1024 * 1024
READS = ("GET", "HEAD")
_ID = re.compile(r"/[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}(?=/|$)")


def call_name(method: str, target: str) -> str:
    """`"GET /v2/images/{id}"`: the method and the path, without query, ids replaced."""
    return f"{method} {_ID.sub('/{id}', urlsplit(target).path)}"


class CountingProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.calls: Counter[str] = Counter()
        self.request_bytes = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="counting-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.request_bytes = 0

    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def writes(self) -> int:
        with self._lock:
            return sum(count for call, count in self.calls.items() if call.split(" ")[0] not in READS)

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.calls)

    def count(self, method: str, target: str, size: int) -> None:
        with self._lock:
            self.calls[call_name(method, target)] += 1
            self.request_bytes += size

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


def _chunked(stream: BufferedIOBase, sent: list[int]) -> Iterator[bytes]:
    """The pieces of a chunked body as they arrive (trailers dropped)."""
    while size := int(stream.readline().split(b";")[0], 16):
        piece = stream.read(size)
        stream.readline()
        sent[0] += len(piece)
        yield piece
    while stream.readline() not in (b"\r\n", b"\n", b""):
        pass


def _sized(stream: BufferedIOBase, length: int, sent: list[int]) -> Iterator[bytes]:
    left = length
    while left > 0:
        piece = stream.read(min(PIECE, left))
        if not piece:
            raise ConnectionError(f"the client closed the body {left} bytes short")
        left -= len(piece)
        sent[0] += len(piece)
        yield piece


def _handler_for(proxy: CountingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._forward()

        do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def _forward(self) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            sent = [0]
            chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
            length = int(self.headers.get("Content-Length") or 0)
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=300)
            try:
                if chunked:
                    upstream.request(
                        self.command, self.path, body=_chunked(self.rfile, sent), headers=headers,
                        encode_chunked=True,
                    )  # fmt: skip
                elif length:
                    headers["Content-Length"] = str(length)
                    upstream.request(
                        self.command, self.path, body=_sized(self.rfile, length, sent), headers=headers
                    )
                else:
                    upstream.request(self.command, self.path, headers=headers)
                answer = upstream.getresponse()
                content = answer.read()
            finally:
                upstream.close()
                proxy.count(self.command, self.path, sent[0])
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            head_length = answer.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", head_length or str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler

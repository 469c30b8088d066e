"""A hostile OCI registry and list server on 127.0.0.1: one repository with one tag whose tag list,
manifest, blob or (HEPiX) list can be replaced by something hostile, generated on the fly:

    with HostileRegistry() as registry:
        registry.blob = qcow2_bytes                       # a well-formed artifact by default
        registry.tag_list = endless(b'{"tags":["', 10**9)  # 1 GB, never held in memory
        registry.manifest = b"[" * 100_000                 # served with its true digest
        registry.redirect_loops = {"/blob", "/list"}       # 302 to themselves, forever
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from types import TracebackType

from attrs import define, field

from support.oci_push import egi_ubuntu_annotations
from support.threaded_http import ThreadedHttp

REPOSITORY = "egi_vm_images/ubuntu"
TAG = "24.04"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
Body = bytes | Callable[[], Iterator[bytes]]  # whole, or generated (sent chunked, without a length)


def endless(prefix: bytes, total: int, filler: bytes = b"a" * 65536) -> Callable[[], Iterator[bytes]]:
    """`total` bytes: the prefix, then the filler over and over, made as they are sent."""

    def generate() -> Iterator[bytes]:
        yield prefix
        sent = len(prefix)
        while sent < total:
            piece = filler[: total - sent]
            sent += len(piece)
            yield piece

    return generate


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@define
class HostileRegistry:
    blob: bytes = b"\0" * 1024
    disk_format: str = "qcow2"
    tag_list: Body | None = None  # None: the one tag
    manifest: bytes | None = None  # None: a well-formed manifest of the blob
    manifest_stream: Body | None = None  # served instead, under any digest, without a length
    list_body: Body = b""  # what /list serves (a HEPiX list)
    redirect_loops: set[str] = field(factory=set)  # "/blob", "/list": 302 to themselves
    sent: dict[str, int] = field(factory=dict)  # bytes sent, by what
    _server: ThreadedHttp | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def manifest_bytes(self) -> bytes:
        if self.manifest is not None:
            return self.manifest
        layer = {
            "mediaType": "application/x-qemu-disk",
            "digest": digest(self.blob),
            "size": len(self.blob),
            "annotations": {
                **egi_ubuntu_annotations(TAG),
                "org.openstack.glance.disk_format": self.disk_format,
            },
        }
        config = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest(b"{}"), "size": 2}
        document = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": config, "layers": [layer]}
        return json.dumps(document).encode()

    def __enter__(self) -> HostileRegistry:
        self._server = ThreadedHttp(_handler_for(self))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop()


def _handler_for(registry: HostileRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            manifest = registry.manifest_bytes()
            base = f"/v2/{REPOSITORY}"
            if path == "/v2/":
                self._send("v2", b"{}", "application/json")
            elif path == f"{base}/tags/list":
                tags = registry.tag_list or json.dumps({"name": REPOSITORY, "tags": [TAG]}).encode()
                self._send("tag list", tags, "application/json")
            elif path.startswith(f"{base}/manifests/") and registry.manifest_stream is not None:
                fake = {"Docker-Content-Digest": "sha256:" + "0" * 64}
                self._send("manifest", registry.manifest_stream, MANIFEST_TYPE, fake)
            elif path in (f"{base}/manifests/{TAG}", f"{base}/manifests/{digest(manifest)}"):
                self._send("manifest", manifest, MANIFEST_TYPE, {"Docker-Content-Digest": digest(manifest)})
            elif path.startswith(f"{base}/blobs/"):
                if "/blob" in registry.redirect_loops:
                    self._redirect(self.path)
                else:
                    self._send("blob", registry.blob, "application/octet-stream")
            elif path == "/list":
                if "/list" in registry.redirect_loops:
                    self._redirect(self.path)
                else:
                    self._send("list", registry.list_body, "text/plain")
            else:
                self._send("404", b"{}", "application/json", status=404)

        def _redirect(self, to: str) -> None:
            self.send_response(302)
            self.send_header("Location", to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(
            self, what: str, body: Body, kind: str, headers: dict[str, str] | None = None, status: int = 200
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if isinstance(body, bytes):
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                    registry.sent[what] = registry.sent.get(what, 0) + len(body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command == "HEAD":
                return
            try:
                for piece in body():
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    registry.sent[what] = registry.sent.get(what, 0) + len(piece)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:  # the client gave up: what a bounded reader does
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler

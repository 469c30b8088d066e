"""The site `bench/sync_hepix.py` measures: a loopback web server for the signed list and its
images, the list itself (signed with the test PKI by the `openssl` command line), the sync's
configuration, and the simulated core 2.0 that downloads each image to its spool before offering
it to `cloudkeeper-os serve` as a LOCAL file, as the real core does.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

import grpc
from attrs import define, field, frozen

from ckos.adapters.sources.hepix.mapping import snapshot_from_list
from support import core, hepix_core
from support.ckos_config import derived_config
from support.hepix_lists import ListPki, entry, image_list
from sync_oci_site import _table

SOURCE = "appdb-bench"
LIST_PATH = "/store/vo/bench/image.list"
CHUNK = 1024 * 1024


@define
class FileServer:
    """Files (bytes, or paths sent with sendfile) on 127.0.0.1, no credentials; every GET recorded."""

    files: dict[str, bytes | Path] = field(factory=dict)
    requests: list[str] = field(factory=list)
    _lock: threading.Lock = field(factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://127.0.0.1:{self._httpd.server_port}{path}"

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.requests)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def __enter__(self) -> FileServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="file-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _handler_for(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            server.record(path)
            content = server.files.get(path)
            if content is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            size = len(content) if isinstance(content, bytes) else content.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            try:
                if isinstance(content, bytes):
                    self.wfile.write(content)
                else:
                    with content.open("rb") as file:
                        self.connection.sendfile(file, 0, size)
            except OSError:
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@frozen
class ImageFile:
    name: str  # also the appliance identifier
    path: Path
    size: int
    sha512: str


def signed_list(lists: ListPki, vo: str, images: list[ImageFile], urls: Mapping[str, str]) -> bytes:
    """The list of the images (hv:format QCOW2), as AppDB publishes it, signed by the endorser."""
    entries = []
    for image in images:
        made = entry(image.name, b"", urls[image.name], version="1", image_format="QCOW2")
        made.update({"hv:size": str(image.size), "sl:checksum:sha512": image.sha512})
        entries.append(made)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    return lists.sign(image_list(entries, created=created, version="1", vo=vo))


def sync_config(
    folder: Path,
    base: Path,
    mapping_file: Path,
    *,
    list_url: str,
    vo: str,
    ca_dir: Path,
    endorser_dn: str,
    tag: str,
    sync: Mapping[str, Any],
    openstack: Mapping[str, Any] | None = None,
) -> Path:
    """A sync configuration in `folder` (made), derived from the devcloud's: one [[sync.hepix]] source."""
    folder.mkdir(parents=True, exist_ok=True)
    changes: dict[str, Mapping[str, object]] = {"glance": {"tag": tag}}
    if openstack:
        changes["openstack"] = dict(openstack)
    path = derived_config(base, folder, mapping=json.loads(mapping_file.read_text()), changes=changes)
    options = {"work_dir": str(folder / "work"), "lock_file": str(folder / "sync.lock"), **sync}
    source = {
        "name": SOURCE,
        "url": list_url,
        "vo": vo,
        "ca_dir": str(ca_dir),
        "endorser_dn": endorser_dn,
    }
    path.write_text(path.read_text() + _table("[sync]", options) + _table("[[sync.hepix]]", source))
    path.chmod(0o600)
    return path


def download(url: str, path: Path) -> tuple[int, str]:
    """The body at `url` into `path`, hashed (SHA-512) as it arrives: (size, hex digest)."""
    digest, size = hashlib.sha512(), 0
    with urllib.request.urlopen(url, timeout=300) as response, path.open("wb") as file:  # noqa: S310
        while piece := response.read(CHUNK):
            digest.update(piece)
            file.write(piece)
            size += len(piece)
    return size, digest.hexdigest()


def fetch_verified(url: str, ca_dir: Path, out: Path) -> None:
    """The signed list, verified as the core does (S/MIME against the CA directory), its content to out."""
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310
        signed = response.read()
    done = subprocess.run(
        ["openssl", "smime", "-verify", "-CApath", str(ca_dir), "-out", str(out)],
        input=signed, capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"the list does not verify: {done.stderr.decode()}")


@define
class Offered:
    """One image the core offered: how long its download (to the spool, verified) and the call took."""

    identifier: str
    download: float
    call: float


class DownloadingCore(hepix_core._RealDigests):
    """The core 2.0 with the real digests, offering the real images: each is downloaded to the spool
    (SHA-512 and size verified against the list) and then offered as a LOCAL file, deleted after
    the call returns."""

    offered: list[Offered]

    def _offer(self, rpc: str, entry: Mapping[str, str]) -> None:
        fmt = core.offered_format(entry, self.formats)
        name = PurePosixPath(urlparse(entry["hv:uri"]).path).name
        path = self.directory / name
        started = time.monotonic()
        try:
            size, sha512 = download(entry["hv:uri"], path)
            if (size, sha512) != (int(entry["hv:size"]), entry["sl:checksum:sha512"]):
                raise RuntimeError(f"{name}: the download does not match the list")
            downloaded = time.monotonic()
            request = self._appliance(entry, location=str(path), fmt=fmt)
            request.image.checksum = sha512
            request.image.size = size
            self._unary(rpc, entry["dc:identifier"], request)
            self.offered.append(
                Offered(entry["dc:identifier"], downloaded - started, time.monotonic() - downloaded)
            )
        finally:
            path.unlink(missing_ok=True)


@frozen
class CoreRun:
    seconds: float  # the whole core run: list fetched and verified, images downloaded and offered
    list_seconds: float
    download_seconds: float  # the downloads to the spool, summed
    call_seconds: float  # the AddAppliance calls (the daemon's uploads), summed
    daemon_cpu: float
    glance_cpu: float
    exit_code: int
    failed_calls: list[str]


def core_run(
    target: str,
    *,
    list_url: str,
    ca_dir: Path,
    spool: Path,
    cpu: Callable[[], float],
    glance_cpu: Callable[[], float],
) -> CoreRun:
    """One core 2.0 run against the daemon at target, timed."""
    cpu_before, glance_before = cpu(), glance_cpu()
    started = time.monotonic()
    content = spool / "image.list.json"
    fetch_verified(list_url, ca_dir, content)
    listed = time.monotonic()
    clock = int(time.time())
    snapshot, _ = snapshot_from_list(content.read_bytes(), source_name="core", vo=None, now=clock)
    digests = {
        offer.appliance.identifier: (offer.appliance.digest, offer.appliance.image.digest)
        for offer in snapshot.offers
        if offer.appliance.image is not None
    }
    with grpc.insecure_channel(target) as channel:
        session = DownloadingCore(channel, core.ImageList.load(content), spool, clock, ("QCOW2",), "core-2.0")
        session.digests = digests
        session.offered = []
        run = session.run()
    seconds = time.monotonic() - started
    content.unlink()
    return CoreRun(
        seconds=seconds,
        list_seconds=listed - started,
        download_seconds=sum(o.download for o in session.offered),
        call_seconds=sum(o.call for o in session.offered),
        daemon_cpu=cpu() - cpu_before,
        glance_cpu=glance_cpu() - glance_before,
        exit_code=run.exit_code,
        failed_calls=[
            f"{c.rpc} {c.subject}: {c.code.name} {c.details}" for c in run.calls if c.code != core.OK
        ],
    )

"""The site `bench/sync_oci.py` measures: images pushed to the loopback registry, the sync's
configuration, `cloudkeeper-os sync` run as a subprocess (time, CPU, peak RSS), and the
registry's traffic from its access log.

Images are pushed as tests/support/oci_push.py pushes them (oras's layout, EGI's annotations,
the empty config), but streamed: the layer goes up in one chunked PATCH while it is generated or
read and hashed, so a 2 GiB image never sits in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from attrs import frozen

from support.ckos_config import derived_config
from support.oci_push import (
    EMPTY_CONFIG,
    EMPTY_CONFIG_BYTES,
    EMPTY_CONFIG_DIGEST,
    OCI_MANIFEST,
    ORAS_ARTIFACT_TYPE,
    QEMU_DISK,
    egi_manifest_annotations,
    egi_ubuntu_annotations,
    put_manifest,
    upload_blob,
)
from support.registry import Registry

MIB = 1024 * 1024
TIME = "/usr/bin/time"  # GNU time: the peak RSS and CPU of the sync process
BLOCK = 16 * MIB
BUILD = "2025-09-04-4d7122d6"
SOURCE = "bench-oci"
_ACCESS = re.compile(r'"((?:GET|HEAD|PUT|POST|PATCH|DELETE) (/v2/[^" ]*)[^"]*)" (\d{3}) (\d+|-)')


@frozen
class Pushed:
    repository: str
    tag: str
    layer_digest: str
    size: int
    sha512: str  # of the layer's bytes, as Glance's os_hash_value will be for an unconverted image


@frozen
class SyncRun:
    seconds: float  # wall clock, from the start of the process to its end (under GNU time)
    cpu: float  # user + system seconds of the process (and of any child it waited for: qemu-img)
    maxrss_kib: int  # its peak resident set size (that of a waited-for child if larger)
    glance_cpu: float  # CPU seconds Glance's gunicorn spent meanwhile
    status: int
    summary: dict[str, Any]  # the --json output


def random_blocks(size: int) -> Iterator[bytes]:
    for start in range(0, size, BLOCK):
        yield os.urandom(min(BLOCK, size - start))


def file_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while block := file.read(BLOCK):
            yield block


def random_file(path: Path, size: int) -> str:
    """Random bytes into `path`; their SHA-512."""
    digest = hashlib.sha512()
    with path.open("wb") as file:
        for block in random_blocks(size):
            digest.update(block)
            file.write(block)
    return digest.hexdigest()


def push_image(registry: Registry, repository: str, tag: str, blocks: Iterable[bytes]) -> Pushed:
    """One oras-style artifact, the disk streamed as its only layer, tagged `tag`."""
    sha256, sha512, size = hashlib.sha256(), hashlib.sha512(), 0

    def hashed() -> Iterator[bytes]:
        nonlocal size
        for block in blocks:
            sha256.update(block)
            sha512.update(block)
            size += len(block)
            yield block

    with httpx.Client(base_url=registry.url, timeout=300.0) as client:
        upload_blob(client, repository, EMPTY_CONFIG_BYTES)
        started = client.post(f"/v2/{repository}/blobs/uploads/")
        _check(started, 202)
        patched = client.patch(
            _absolute(client, started.headers["Location"]),
            content=hashed(),
            headers={"Content-Type": "application/octet-stream"},
        )
        _check(patched, 202)
        digest = f"sha256:{sha256.hexdigest()}"
        done = client.put(
            _absolute(client, patched.headers["Location"]).copy_merge_params({"digest": digest})
        )
        _check(done, 201)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ORAS_ARTIFACT_TYPE,
            "config": {"mediaType": EMPTY_CONFIG, "digest": EMPTY_CONFIG_DIGEST, "size": 2, "data": "e30="},
            "layers": [
                {
                    "mediaType": QEMU_DISK,
                    "digest": digest,
                    "size": size,
                    "annotations": egi_ubuntu_annotations(tag, BUILD),
                }
            ],
            "annotations": egi_manifest_annotations(),
        }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        put_manifest(client, repository, tag, body, OCI_MANIFEST)
    return Pushed(repository, tag, digest, size, sha512.hexdigest())


def _absolute(client: httpx.Client, location: str) -> httpx.URL:
    url = httpx.URL(location)
    return client.base_url.join(url) if url.is_relative_url else url


def _check(response: httpx.Response, expected: int) -> None:
    if response.status_code != expected:
        raise RuntimeError(
            f"{response.request.method} {response.url.path}: {response.status_code} {response.text}"
        )


@frozen
class Traffic:
    """What the registry served: request lines, and the bytes of blob bodies sent."""

    requests: list[str]  # "GET /v2/<repo>/tags/list", with digests and queries as they came
    blob_bytes: int

    def kinds(self) -> dict[str, int]:
        """Requests by method and kind of resource (`GET tags`, `HEAD manifests`, `GET blobs`)."""
        kinds: dict[str, int] = {}
        for line in self.requests:
            method, path = line.split(" ")[:2]
            kind = f"{method} {path.split('?')[0].split('/')[-2]}"
            kinds[kind] = kinds.get(kind, 0) + 1
        return dict(sorted(kinds.items()))


def registry_traffic(registry: Registry, since: int) -> Traffic:
    """The registry's access-log entries after the first `since` (see `log_position`)."""
    entries = _ACCESS.findall(registry.log_file.read_text(errors="replace"))[since:]
    blob_bytes = sum(int(sent) for line, path, _, sent in entries if "/blobs/" in path and sent != "-"
                     and line.startswith("GET"))  # fmt: skip
    return Traffic([line.rsplit(" ", 1)[0] for line, *_ in entries], blob_bytes)


def log_position(registry: Registry) -> int:
    return len(_ACCESS.findall(registry.log_file.read_text(errors="replace")))


def sync_config(
    folder: Path,
    base: Path,
    mapping_file: Path,
    *,
    registry: Registry,
    repositories: list[str],
    vo: str,
    tag: str,
    sync: Mapping[str, Any],
    openstack: Mapping[str, Any] | None = None,
) -> Path:
    """A sync configuration in `folder` (made), derived from the devcloud's: one [[sync.oci]] source."""
    folder.mkdir(parents=True, exist_ok=True)
    changes: dict[str, Mapping[str, object]] = {"glance": {"tag": tag}}
    if openstack:
        changes["openstack"] = dict(openstack)
    path = derived_config(base, folder, mapping=json.loads(mapping_file.read_text()), changes=changes)
    options = {
        "work_dir": str(folder / "work"),
        "lock_file": str(folder / "sync.lock"),
        **sync,
    }
    source = {
        "name": SOURCE,
        "registry": registry.url,
        "repositories": repositories,
        "vo": vo,
    }
    path.write_text(path.read_text() + _table("[sync]", options) + _table("[[sync.oci]]", source))
    path.chmod(0o600)
    return path


def _table(header: str, options: Mapping[str, Any]) -> str:
    # JSON's strings, numbers, booleans and lists of strings are TOML's.
    return f"\n{header}\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())


def run_sync(executable: Path, config: Path, log: Path, glance_cpu: Callable[[], float]) -> SyncRun:
    """`cloudkeeper-os sync --config CONFIG --json` as a subprocess, under GNU time for its own
    rusage. Not wait4 from this process: a child forked from here carries this process's memory
    until it execs, and Linux keeps that high-water mark in the child's ru_maxrss (every run
    would read as this process's ~130 MiB); forked from `time`, the child starts from ~2 MiB."""
    glance_before = glance_cpu()
    usage = config.parent / "sync.rusage"
    with log.open("ab") as errors:
        started = time.monotonic()
        command = [str(executable), "sync", "--config", str(config), "--json"]
        done = subprocess.run(
            [TIME, "-f", "%M %U %S", "-o", str(usage), *command],
            stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        seconds = time.monotonic() - started
    maxrss_kib, user, system = usage.read_text().split()[-3:]
    summary: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    return SyncRun(
        seconds=seconds,
        cpu=float(user) + float(system),
        maxrss_kib=int(maxrss_kib),
        glance_cpu=glance_cpu() - glance_before,
        status=done.returncode,
        summary=summary,
    )

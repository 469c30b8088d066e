"""A real OCI registry (CNCF distribution, Debian's `docker-registry`) on 127.0.0.1, for tests.

Three modes: `anonymous` (no auth), `htpasswd` (Basic, bcrypt file) and `token` (Bearer JWTs from
a TokenIssuer in this process, verified by the registry itself). Storage is a folder of the
test's, so that tests can damage what the registry serves.

    with running_registry(tmp_path, mode="token") as registry:
        registry.url, registry.credentials, registry.issuer
        pushed = push_artifact(registry.url, "egi_vm_images/ubuntu", disk, tags=[...],
                               auth=registry.credentials)
        registry.corrupt_blob(pushed.layer_digest)      # served bytes no longer match the digest
        registry.delete_tag("egi_vm_images/ubuntu", "24.04")
        registry.stop(); registry.start()               # same port, same storage

Session-scoped use: `running_registry(tmp_path_factory.mktemp("registry"), mode=...)`.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Literal

import httpx
from attrs import define, field

from support.certificates import Identity
from support.oci_push import Credentials, digest_of, move_tag
from support.token_issuer import TokenIssuer

REGISTRY_BINARY = "/usr/bin/docker-registry"
Mode = Literal["anonymous", "htpasswd", "token"]
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
USERNAME = "ckos-puller"
PASSWORD = "pw-Zq8!not-in-any-log"  # distinctive, so tests can look for it in messages and logs


@define
class Registry:
    """A running registry process and what a test needs to reach and to damage it."""

    folder: Path
    mode: Mode
    credentials: Credentials | None  # None in anonymous mode
    issuer: TokenIssuer | None  # token mode only
    tls: Identity | None = None  # serve https with this certificate (the issuer stays http)
    port: int = 0
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.folder / "storage"

    @property
    def log_file(self) -> Path:
        return self.folder / "registry.log"

    def start(self) -> None:
        """Start the process (again, on the same port if it had one) and wait until /v2/ answers."""
        if self._process is not None:
            return
        self.port = self.port or _free_port()
        config = self.folder / "config.yml"
        config.write_text(self._config())
        self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._forget()
                raise RuntimeError(f"the registry exited at start; see {self.log_file}")
            try:
                httpx.get(f"{self.url}/v2/", timeout=1.0, verify=False)  # 200 or 401: it answers
            except httpx.TransportError:
                time.sleep(0.05)
            else:
                return
        self.stop()
        raise RuntimeError(f"the registry did not answer within {START_TIMEOUT} s; see {self.log_file}")

    def stop(self) -> None:
        """Stop the process: SIGTERM, then SIGKILL after STOP_TIMEOUT."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._forget()

    def restart(self) -> None:
        self.stop()
        self.start()

    def requests(self) -> list[str]:
        """The request lines the registry logged so far ("GET /v2/... HTTP/1.1"), in order."""
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return re.findall(r'"((?:GET|HEAD|PUT|POST|PATCH|DELETE) /v2/[^"]*)"', text)

    def blob_file(self, digest: str) -> Path:
        algorithm, _, hexa = digest.partition(":")
        return self.storage / "docker/registry/v2/blobs" / algorithm / hexa[:2] / hexa / "data"

    def corrupt_blob(self, digest: str, how: Literal["flip", "append", "truncate"] = "flip") -> None:
        """Change the stored bytes: `flip` keeps the size, the others change it."""
        path = self.blob_file(digest)
        data = bytearray(path.read_bytes())
        if how == "flip":
            data[len(data) // 2] ^= 0xFF
        elif how == "append":
            data += b"trailing garbage"
        else:
            del data[len(data) // 2 :]
        path.write_bytes(bytes(data))

    def delete_tag(self, repository: str, tag: str) -> None:
        """Remove a tag the way Harbor's retention does: the manifest stays, reachable by digest."""
        shutil.rmtree(self.storage / "docker/registry/v2/repositories" / repository / "_manifests/tags" / tag)

    def move_tag(self, repository: str, tag: str, manifest_digest: str) -> None:
        """Point `tag` at another manifest of the repository (a rebuild's short tag)."""
        move_tag(self.url, repository, tag, manifest_digest, auth=self.credentials)

    def _config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",  # one line per request in log_file: what tests count
            "    disabled: false",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.storage}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: ckos-tests-not-secret",
        ]
        if self.tls is not None:
            lines += ["  tls:", f"    certificate: {self.tls.certificate}", f"    key: {self.tls.key}"]
        if self.mode == "htpasswd":
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: ckos-tests",
                f"    path: {self.folder / 'htpasswd'}",
            ]
        elif self.mode == "token":
            assert self.issuer is not None
            lines += [
                "auth:",
                "  token:",
                f"    realm: {self.issuer.realm}",
                f"    service: {self.issuer.service}",
                f"    issuer: {self.issuer.name}",
                f"    rootcertbundle: {self.folder / 'token-signer.pem'}",
            ]
        return "\n".join(lines) + "\n"

    def _forget(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@contextmanager
def running_registry(
    folder: Path,
    *,
    mode: Mode = "anonymous",
    username: str = USERNAME,
    password: str = PASSWORD,
    anonymous_pull: bool = False,
    tls: Identity | None = None,
    port: int = 0,
) -> Iterator[Registry]:
    """A registry in `mode`, stopped (killed if need be) on exit whatever happens.

    On `port` when given (a free one otherwise): what names the images stays the same across runs.

    In htpasswd and token modes `username`/`password` is the one known user; in token mode
    `anonymous_pull` lets the issuer grant pull to requests without credentials. With `tls`
    the registry serves https (and the pushes of oci_push do not check its certificate).
    """
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        credentials = None if mode == "anonymous" else Credentials(username, password)
        issuer = None
        if mode == "htpasswd":
            (folder / "htpasswd").write_text(_htpasswd_line(username, password))
        elif mode == "token":
            issuer = stack.enter_context(
                TokenIssuer(users={username: password}, anonymous_pull=anonymous_pull)
            )
            issuer.write_certificate(folder / "token-signer.pem")
        registry = Registry(folder, mode, credentials, issuer, tls, port)
        stack.callback(registry.stop)
        registry.start()
        yield registry


def _htpasswd_line(username: str, password: str) -> str:
    """A bcrypt entry (the only hash distribution accepts), from apache2-utils' htpasswd."""
    result = subprocess.run(
        ["htpasswd", "-niB", username], input=password, capture_output=True, text=True, check=True
    )
    return result.stdout.strip() + "\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


__all__ = ["PASSWORD", "USERNAME", "Credentials", "Mode", "Registry", "digest_of", "running_registry"]

"""REMOTE transfers: the core's file from its per-call web server, streamed with basic auth."""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from attrs import frozen

from ckos.domain.errors import SourceForbidden, SourceUnavailable
from ckos.domain.model import ImageSource, TransferMode
from ckos.domain.ports import ImageData, Readable


class RemoteImageDownloads(ImageData):
    """Streams http(s) sources; never writes them to disk, never names their credentials."""

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] = (),
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_redirects: int = 5,
        ca_bundle: Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._allowed_hosts = frozenset(host.lower() for host in allowed_hosts)  # empty: any host
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._max_redirects = max_redirects
        # Built now, so that a missing or bad CA bundle fails at start-up, not at the first transfer.
        self._verify: ssl.SSLContext | bool = True
        if ca_bundle is not None:
            self._verify = ssl.create_default_context(cafile=str(ca_bundle))
        self._transport = transport  # tests hand in httpx.MockTransport

    @contextmanager
    def open(self, source: ImageSource) -> Iterator[Readable]:
        """The response body; SourceForbidden for a host not allowed, else SourceUnavailable."""
        if source.mode is not TransferMode.REMOTE:
            raise SourceUnavailable("RemoteImageDownloads serves only REMOTE image transfers")
        request = _Request.of(source)
        self._check(request.url)
        label = _label(request.url)
        try:
            with (
                self._client() as client,
                client.stream(
                    "GET", request.url, auth=request.auth, headers={"Accept-Encoding": "identity"}
                ) as response,
            ):
                if response.status_code != httpx.codes.OK:
                    status = f"{response.status_code} {response.reason_phrase}"
                    raise SourceUnavailable(f"{label} answered HTTP {status}")
                # As the network delivers: re-chunking to a fixed size would copy every byte again.
                yield _BodyReader(response.iter_bytes(), label, request.secrets)
        except httpx.HTTPError as error:
            raise SourceUnavailable(
                f"{label}: download failed: {_redacted(error, request.secrets)}"
            ) from None

    def _client(self) -> httpx.Client:
        return httpx.Client(
            timeout=self._timeout,
            follow_redirects=True,
            max_redirects=self._max_redirects,
            verify=self._verify,
            transport=self._transport,
            event_hooks={"request": [lambda request: self._check(request.url)]},  # every redirect too
        )

    def _check(self, url: httpx.URL) -> None:
        if url.scheme not in ("http", "https"):
            raise SourceForbidden(f"image location scheme {url.scheme!r} is not http or https")
        if self._allowed_hosts and url.host.lower() not in self._allowed_hosts:
            raise SourceForbidden(f"image host {url.host} is not among the allowed hosts")


@frozen
class _Request:
    url: httpx.URL  # without credentials
    auth: httpx.BasicAuth | None
    secrets: list[str]  # to blank out of any error message

    @classmethod
    def of(cls, source: ImageSource) -> _Request:
        try:
            url = httpx.URL(source.location)
        except httpx.InvalidURL:
            raise SourceUnavailable("image location is not a valid URL") from None
        # Credentials in the URL itself are honoured too, but never kept in it.
        username, password = source.username or url.username, source.password or url.password
        secrets = [s for s in {source.username, source.password, url.username, url.password} if s]
        auth = httpx.BasicAuth(username, password) if username or password else None
        return cls(url.copy_with(userinfo=b""), auth, secrets)


class _BodyReader:
    """A response body as a Readable, network errors turned into the domain's.

    The body arrives in the pieces the network gives (64 KiB from httpcore); a read joins whole
    pieces and splits only the last one, so every byte is copied once here, whatever the sizes.
    """

    def __init__(self, chunks: Iterator[bytes], label: str, secrets: list[str]) -> None:
        self._chunks = chunks
        self._label = label
        self._secrets = secrets
        self._rest = b""  # what the last read's last piece held beyond the size asked for
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        parts = [self._rest] if self._rest else []
        have = len(self._rest)
        self._rest = b""
        while not self._done and (size < 0 or have < size):
            try:
                piece = next(self._chunks)
            except StopIteration:
                self._done = True
            except httpx.HTTPError as error:
                reason = _redacted(error, self._secrets)
                raise SourceUnavailable(f"{self._label}: download failed: {reason}") from None
            else:
                parts.append(piece)
                have += len(piece)
        if 0 <= size < have:
            last = parts[-1]
            cut = len(last) - (have - size)
            parts[-1], self._rest = last[:cut], last[cut:]
        return b"".join(parts)


def _label(url: httpx.URL) -> str:
    """The URL as logs and messages may show it: no credentials, no query."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _redacted(error: Exception, secrets: list[str]) -> str:
    message = str(error) or type(error).__name__
    for secret in secrets:
        message = message.replace(secret, "***")
    return message

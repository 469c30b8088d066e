"""Fetching a signed image list over http(s), with the AppDB token when one is configured.

Trust comes from the signature, not from the transport, so plain http is allowed; the token is
sent as AppDB expects it (HTTP Basic, user = token, password `x-oauth-basic`: sync-sources.md
§1.6), never in the URL, and is blanked out of every message. A redirect to another origin
loses the credentials (httpx drops Authorization there).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from ckos.adapters.sources.oci_responses import read_bounded
from ckos.domain.errors import SourceUnavailable

TOKEN_PASSWORD = "x-oauth-basic"  # noqa: S105 - AppDB's literal password for token access
MAX_LIST_SIZE = 32 * 1024 * 1024  # an AppDB VO list is a few hundred KiB


class ListFetcher:
    def __init__(
        self,
        url: str,
        *,
        token: str = "",
        ca_bundle: Path | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_redirects: int = 5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Raises ValueError for a URL that is no http(s) URL or that carries credentials."""
        try:
            self._url = httpx.URL(url)
        except httpx.InvalidURL:
            raise ValueError("the list URL is not a valid URL") from None
        if self._url.scheme not in ("http", "https") or not self._url.host:
            raise ValueError("the list URL must be an http(s):// URL")
        if self._url.userinfo:
            raise ValueError("the list URL must not hold credentials: put the AppDB token in token_file")
        if token and self._url.scheme != "https":
            raise ValueError("the AppDB token is sent over https only: the list URL is plain http")
        self._token = token
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._max_redirects = max_redirects
        # Built now: a missing or bad CA file fails at start-up, not at the first fetch.
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle is not None else True
        )
        self._transport = transport

    @property
    def label(self) -> str:
        """The URL as messages may show it: scheme, host, port and path (no query, no credentials)."""
        port = f":{self._url.port}" if self._url.port else ""
        return f"{self._url.scheme}://{self._url.host}{port}{self._url.path}"

    def fetch(self) -> bytes:
        """The list as served (the S/MIME message); SourceUnavailable when it cannot be had."""
        auth = httpx.BasicAuth(self._token, TOKEN_PASSWORD) if self._token else None
        try:
            with (
                httpx.Client(
                    timeout=self._timeout,
                    follow_redirects=True,
                    max_redirects=self._max_redirects,
                    verify=self._verify,
                    transport=self._transport,
                ) as client,
                client.stream("GET", self._url, auth=auth) as response,
            ):
                if response.status_code != httpx.codes.OK:
                    hint = " (is token_file right?)" if response.status_code in (401, 403) else ""
                    status = f"{response.status_code} {response.reason_phrase}"
                    raise SourceUnavailable(f"list {self.label} answered HTTP {status}{hint}")
                return read_bounded(response, MAX_LIST_SIZE, f"list {self.label}", "image list")
        except httpx.HTTPError as error:
            raise SourceUnavailable(
                f"list {self.label} could not be fetched: {self._redacted(error)}"
            ) from None

    def _redacted(self, error: Exception) -> str:
        message = str(error) or type(error).__name__
        return message.replace(self._token, "***") if self._token else message

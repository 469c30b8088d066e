"""HTTP to 127.0.0.1 only, with urllib: health probes and the Keystone REST calls of seeding."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

# No proxy handler: urllib would otherwise honour http_proxy from the environment and send
# loopback requests to a proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: str,
    url: str,
    *,
    body: object = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Response:
    """Send one request; HTTP error statuses are returned, not raised. OSError on no answer."""
    if urllib.parse.urlsplit(url).hostname != "127.0.0.1":
        raise ValueError(f"devcloud only talks to 127.0.0.1, not {url}")
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    prepared = urllib.request.Request(url, data=data, headers=all_headers, method=method)  # noqa: S310 (http on loopback, checked above)
    try:
        with _OPENER.open(prepared, timeout=timeout) as answer:
            return Response(answer.status, dict(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, dict(error.headers.items()), error.read())


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether GET url returns 2xx within timeout.

    The timeout matters: gunicorn's master accepts connections even while no worker is alive,
    so a probe without one can hang forever.
    """
    try:
        return 200 <= request("GET", url, timeout=timeout).status < 300
    except (OSError, http.client.HTTPException):
        return False

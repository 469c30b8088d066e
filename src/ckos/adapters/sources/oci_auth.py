"""Registry authentication: the answer to a 401, and the Bearer tokens it earned, per scope.

Harbor (and distribution) answer an anonymous request with a Bearer challenge naming a token
realm; the token is fetched there (Basic credentials if configured, anonymous otherwise) and
cached per scope, since it is short-lived (Harbor: 30 min) and only good for that scope. A
registry that challenges Basic gets the credentials directly, and from then on up front.
Credentials only ever travel in headers, never in a URL.
"""

from __future__ import annotations

import base64
import threading

import httpx
from loguru import logger

from ckos.adapters.sources.oci_challenges import Challenge, parse_challenges
from ckos.domain.errors import SourceInvalid, SourceUnavailable


class RegistryAuth:
    def __init__(self, *, username: str, password: str, registry_https: bool) -> None:
        self._username = username
        self._password = password
        self._registry_https = registry_https
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        self._lock = threading.Lock()  # the sync's transfers share one registry across threads
        self._basic = False  # the registry asked for Basic: send it with every request

    @property
    def has_credentials(self) -> bool:
        return bool(self._username or self._password)

    @property
    def secrets(self) -> list[str]:
        """What no message may show: the password and every token held."""
        with self._lock:
            tokens = list(self._tokens.values())
        return [s for s in (self._password, *tokens) if s]

    def header(self, scope: str) -> str | None:
        """The Authorization header to send up front, if any is known for `scope`."""
        with self._lock:
            token = self._tokens.get(scope)
        if token:
            return f"Bearer {token}"
        return self._basic_header() if self._basic else None

    def forget(self, scope: str) -> bool:
        """Drop the token of `scope` (it was refused: expired); True if there was one."""
        with self._lock:
            return self._tokens.pop(scope, None) is not None

    def answer(self, client: httpx.Client, response: httpx.Response, scope: str, label: str) -> str:
        """The Authorization header that answers the 401 `response`, earning a token if need be."""
        challenges = parse_challenges(", ".join(response.headers.get_list("WWW-Authenticate")))
        for challenge in challenges:
            if challenge.scheme == "bearer" and challenge.params.get("realm"):
                token = self._token(client, challenge, scope, label)
                with self._lock:
                    self._tokens[scope] = token
                return f"Bearer {token}"
        if any(c.scheme == "basic" for c in challenges):
            if not self.has_credentials:
                raise SourceUnavailable(
                    f"{label}: the registry wants credentials: set username and password_file"
                )
            self._basic = True
            return self._basic_header()
        schemes = ", ".join(c.scheme for c in challenges) or "none"
        raise SourceUnavailable(f"{label}: HTTP 401 with no challenge ckos can answer (schemes: {schemes})")

    def _token(self, client: httpx.Client, challenge: Challenge, scope: str, label: str) -> str:
        try:
            realm = httpx.URL(challenge.params["realm"])
        except httpx.InvalidURL:
            raise SourceInvalid(f"{label}: the token realm is not a URL") from None
        if realm.scheme not in ("http", "https") or realm.userinfo:
            raise SourceInvalid(f"{label}: the token realm is not a plain http(s) URL")
        credentials = self.has_credentials
        if credentials and self._registry_https and realm.scheme != "https":
            raise SourceInvalid(f"{label}: the token realm {realm.host} is not https: credentials withheld")
        params = {"scope": challenge.params.get("scope") or scope}
        if service := challenge.params.get("service"):
            params["service"] = service
        auth = httpx.BasicAuth(self._username, self._password) if credentials else None
        where = f"{label}: token service {realm.host}"
        response = client.get(realm, params=params, auth=auth, follow_redirects=False)
        if response.status_code in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
            who = "our credentials" if credentials else "anonymous access"
            raise SourceUnavailable(f"{where} refused {who} (HTTP {response.status_code})")
        if response.status_code != httpx.codes.OK:
            raise SourceUnavailable(f"{where} answered HTTP {response.status_code} {response.reason_phrase}")
        try:
            document = response.json()
        except (ValueError, RecursionError):
            raise SourceInvalid(f"{where} answered something that is not JSON") from None
        token = (
            (document.get("token") or document.get("access_token")) if isinstance(document, dict) else None
        )
        if not isinstance(token, str) or not token:
            raise SourceInvalid(f"{where} answered no token")
        logger.debug(
            "{}: token for scope {} ({})", where, params["scope"], "user" if credentials else "anonymous"
        )
        return token

    def _basic_header(self) -> str:
        pair = f"{self._username}:{self._password}".encode()
        return f"Basic {base64.b64encode(pair).decode()}"

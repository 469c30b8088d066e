"""A Docker token issuer on 127.0.0.1 that signs real RS256 JWTs, for a registry in `token` mode.

The real registry (distribution) checks every token it is handed: issuer, audience (= service),
expiry and not-before (with 60 s of leeway), the access claims, and the signing key, which must
chain to its `rootcertbundle`. The issuer puts its self-signed certificate in the `x5c` header,
and the same certificate is the bundle, so the registry verifies the signature itself.

    with TokenIssuer(users={"puller": "s3cret"}, anonymous_pull=False) as issuer:
        issuer.realm, issuer.service, issuer.name, issuer.certificate   # for the registry config
        issuer.lifetime = -57.0     # the next tokens expire (past the leeway) 3 s after issue
        issuer.requests             # every token request: account, scopes, what was granted
        issuer.tokens               # every token handed out (tests check none of them leaks)
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from attrs import define, field, frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

SERVICE = "ckos-test-registry"
ISSUER = "ckos-test-issuer"
ACTIONS = ("pull", "push")


@frozen
class TokenRequest:
    account: str  # "" when anonymous
    scopes: tuple[str, ...]
    granted: bool  # False: the issuer answered 401 (bad credentials)


@define
class TokenIssuer:
    users: dict[str, str] = field(factory=dict)  # username -> password (Basic on the realm)
    anonymous_pull: bool = False  # grant pull to requests without credentials
    lifetime: float = 300.0  # seconds from issue to `exp`; negative values make tokens stale early
    token_field: str = "both"  # "token", "access_token" or "both": which keys the answer carries
    service: str = SERVICE
    name: str = ISSUER
    requests: list[TokenRequest] = field(factory=list)
    tokens: list[str] = field(factory=list)
    _key: rsa.RSAPrivateKey = field(factory=lambda: rsa.generate_private_key(65537, 2048))
    _certificate_der: bytes = b""
    _lock: threading.Lock = field(factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def __attrs_post_init__(self) -> None:
        self._certificate_der = _self_signed(self._key).public_bytes(serialization.Encoding.DER)

    @property
    def realm(self) -> str:
        assert self._httpd is not None, "the issuer is not running"
        return f"http://127.0.0.1:{self._httpd.server_port}/token"

    def write_certificate(self, path: Path) -> Path:
        """The registry's `rootcertbundle`: the certificate whose key signs every token."""
        certificate = x509.load_der_x509_certificate(self._certificate_der)
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return path

    def count(self, scope: str | None = None) -> int:
        """Token requests seen (for one scope, if given)."""
        with self._lock:
            return sum(1 for r in self.requests if scope is None or scope in r.scopes)

    def issue(self, account: str, scopes: list[str]) -> str:
        """A signed JWT granting `account` what it may do of `scopes`."""
        now = int(time.time())
        claims = {
            "iss": self.name,
            "sub": account,
            "aud": self.service,
            "exp": int(now + self.lifetime),
            "nbf": now,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": [a for a in (self._grant(account, s) for s in scopes) if a is not None],
        }
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self._certificate_der).decode()]}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input}.{_b64(signature)}"
        with self._lock:
            self.tokens.append(token)
        return token

    def _grant(self, account: str, scope: str) -> dict[str, object] | None:
        kind, _, rest = scope.partition(":")
        name, _, wanted = rest.rpartition(":")
        if kind != "repository" or not name:
            return None
        allowed = ACTIONS if account else (("pull",) if self.anonymous_pull else ())
        actions = [a for a in wanted.split(",") if a in allowed or (a == "*" and account)]
        return {"type": "repository", "name": name, "actions": actions}

    def start(self) -> TokenIssuer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TokenIssuer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, t: TracebackType | None
    ) -> None:
        self.stop()

    def _answer(self, path: str, authorization: str) -> tuple[int, dict[str, object]]:
        url = urlsplit(path)
        query = parse_qs(url.query)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        account = ""
        if authorization:
            account = self._account(authorization)
            if not account:
                with self._lock:
                    self.requests.append(TokenRequest("?", tuple(scopes), granted=False))
                return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
        if url.path != "/token" or query.get("service") != [self.service]:
            return 400, {"errors": [{"code": "BAD_REQUEST", "message": "unknown service"}]}
        token = self.issue(account, scopes)
        with self._lock:
            self.requests.append(TokenRequest(account, tuple(scopes), granted=True))
        body: dict[str, object] = {"expires_in": int(self.lifetime), "issued_at": _now_iso()}
        if self.token_field in ("token", "both"):
            body["token"] = token
        if self.token_field in ("access_token", "both"):
            body["access_token"] = token
        return 200, body

    def _account(self, authorization: str) -> str:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return ""
        try:
            username, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return ""
        good = username in self.users and secrets.compare_digest(self.users[username], password)
        return username if good else ""


def _handler_for(issuer: TokenIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = issuer._answer(self.path, self.headers.get("Authorization", ""))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the tests read `issuer.requests`, not stderr

    return Handler


def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ckos test token issuer")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")

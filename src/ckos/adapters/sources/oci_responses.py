"""Reading registry answers defensively: bounded bodies, tag pages, error codes, links, redaction.

A registry is a remote party: a JSON document it sends is read only up to a bound, an error is
reported with the registry's own code (MANIFEST_UNKNOWN, NAME_UNKNOWN, ...), and no message ever
carries a credential or a token, even when the underlying library puts one in its text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from ckos.domain.errors import SourceInvalid, SourceUnavailable

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;"]+))""", re.IGNORECASE)
_ERROR_BODY_LIMIT = 64 * 1024


def read_bounded(response: httpx.Response, limit: int, label: str, what: str) -> bytes:
    """The whole body, or SourceInvalid as soon as it exceeds `limit` bytes (any source's answer)."""
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > limit:
        raise SourceInvalid(f"{label}: the {what} is {announced} bytes, more than the {limit} allowed")
    parts: list[bytes] = []
    have = 0
    for piece in response.iter_bytes():
        have += len(piece)
        if have > limit:
            raise SourceInvalid(f"{label}: the {what} is larger than the {limit} bytes allowed")
        parts.append(piece)
    return b"".join(parts)


def check_status(response: httpx.Response, label: str, *, credentials: bool) -> None:
    """SourceUnavailable for any answer but a success, saying what the registry said."""
    if response.is_success:
        return
    status = f"HTTP {response.status_code} {response.reason_phrase}"
    if code := _error_code(response):
        status = f"{status}, {code}"
    if response.status_code == httpx.codes.UNAUTHORIZED:
        who = "our credentials" if credentials else "anonymous access"
        raise SourceUnavailable(f"{label}: the registry refused {who} ({status})")
    if response.status_code == httpx.codes.NOT_FOUND:
        raise SourceUnavailable(f"{label}: not found ({status})")
    raise SourceUnavailable(f"{label}: the registry answered {status}")


def next_link(response: httpx.Response, current: httpx.URL) -> httpx.URL | None:
    """The `rel="next"` target of the Link headers, resolved against the page it came with."""
    for target, params in _LINK.findall(", ".join(response.headers.get_list("Link"))):
        for quoted, bare in _REL.findall(params):
            if "next" in (quoted or bare).lower().split():
                return current.join(target)
    return None


def same_origin(one: httpx.URL, other: httpx.URL) -> bool:
    return (one.scheme, one.host, one.port) == (other.scheme, other.host, other.port)


def redacted(error: Exception, secrets: list[str]) -> str:
    message = str(error) or type(error).__name__
    for secret in secrets:
        message = message.replace(secret, "***")
    return message


def json_document(body: bytes, what: str) -> Any:
    """The JSON in `body`; SourceInvalid when it is not JSON, or nested too deeply to read."""
    try:
        return json.loads(body)
    except RecursionError:
        raise SourceInvalid(f"the {what} is nested too deeply") from None
    except ValueError:
        raise SourceInvalid(f"the {what} is not JSON") from None


def tags_of(body: bytes, label: str) -> list[str]:
    """The tags of one page of a tag list (distribution answers null once all are deleted)."""
    try:
        document = json_document(body, "tag list")
    except SourceInvalid as error:
        raise SourceInvalid(f"{label}: {error}") from None
    tags = document.get("tags") if isinstance(document, dict) else None
    if tags is None and isinstance(document, dict):
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SourceInvalid(f"{label}: the tag list has no list of tags")
    return tags


def _error_code(response: httpx.Response) -> str:
    """The registry's error codes (distribution spec error body), or "" if there are none."""
    body = b""
    for piece in response.iter_bytes():
        body += piece
        if len(body) > _ERROR_BODY_LIMIT:
            return ""
    try:
        errors = json_document(body, "error").get("errors")
        return ", ".join(str(e["code"])[:64] for e in errors[:3])
    except (SourceInvalid, AttributeError, TypeError, KeyError):
        return ""

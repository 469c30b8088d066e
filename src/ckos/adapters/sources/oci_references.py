"""Names of the OCI distribution API: repositories, tags, digests, checked before they reach a URL.

Tags and digests come from the registry itself (tag lists, manifests), so they are checked like
any untrusted input: a name outside the spec's grammar could otherwise walk the URL path.
"""

from __future__ import annotations

import hashlib
import re

from ckos.domain.errors import SourceInvalid

# The distribution spec's grammars (opencontainers/distribution-spec, "Pulling manifests").
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST = re.compile(r"(sha256):([a-f0-9]{64})|(sha512):([a-f0-9]{128})")


def check_repository(name: str) -> str:
    if len(name) > 255 or not _REPOSITORY.fullmatch(name):
        raise SourceInvalid(f"{name[:100]!r} is not a valid repository name")
    return name


def check_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise SourceInvalid(f"{tag[:100]!r} is not a valid tag")
    return tag


def check_digest(digest: str) -> str:
    """A sha256 or sha512 digest in its canonical form (lower-case hex)."""
    if not _DIGEST.fullmatch(digest):
        raise SourceInvalid(f"{digest[:140]!r} is not a sha256 or sha512 digest")
    return digest


def hasher(digest: str) -> hashlib._Hash:
    """A fresh hash object of the digest's algorithm."""
    return hashlib.new(check_digest(digest).partition(":")[0])


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"

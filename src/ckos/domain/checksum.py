"""Image checksums: a SHA-512 in hex (what the core announces), or `sha256:<hex>` (an OCI blob).

A registry names a blob by its SHA-256, and nothing else is known about its bytes before they
are read; a checksum therefore says which algorithm it is of.
"""

from __future__ import annotations

import hashlib
import re

_FORMS = {
    "sha512": re.compile(r"[0-9a-f]{128}"),
    "sha256": re.compile(r"sha256:[0-9a-f]{64}"),
}
_NAMES = {"sha512": "SHA-512", "sha256": "SHA-256"}


def algorithm(checksum: str) -> str | None:
    """The hashlib name of the checksum's algorithm, or None when it is no checksum we know."""
    return next((name for name, form in _FORMS.items() if form.fullmatch(checksum)), None)


def hasher(checksum: str) -> hashlib._Hash:
    """A fresh hash object of the checksum's algorithm (the checksum must be valid)."""
    name = algorithm(checksum)
    if name is None:
        raise ValueError(f"not a checksum: {checksum!r}")
    return hashlib.new(name)


def spelled(checksum: str, digest: hashlib._Hash) -> str:
    """The digest written as the checksum is: bare hex for SHA-512, `sha256:<hex>` otherwise."""
    return digest.hexdigest() if algorithm(checksum) == "sha512" else f"{digest.name}:{digest.hexdigest()}"


def label(checksum: str) -> str:
    """The algorithm's name for messages: SHA-512, SHA-256."""
    return _NAMES.get(algorithm(checksum) or "", "checksum")

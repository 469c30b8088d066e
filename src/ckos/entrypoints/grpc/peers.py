"""Which client certificates may call the Communicator (server.tls.allowed_subjects).

Mutual TLS already requires a certificate signed by client_ca; this narrows it to named
subjects. Grid certificates are usually written OpenSSL-style ("/DC=org/.../CN=host"), gRPC
reports RFC 2253 ("CN=host,...,DC=org"): both spellings are accepted and compared alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from attrs import field, frozen

# A comma not escaped with a backslash separates RDNs in RFC 2253.
_RDN_SEPARATOR = re.compile(r"(?<!\\),")


def normalise(subject: str) -> str:
    """The subject in OpenSSL order and spelling, attribute types upper-cased."""
    if subject.startswith("/"):
        parts = subject[1:].split("/")
    else:
        parts = list(reversed(_RDN_SEPARATOR.split(subject)))
    rdns = []
    for part in parts:
        kind, _, value = part.strip().partition("=")
        rdns.append(f"{kind.strip().upper()}={value.strip()}")
    return "/" + "/".join(rdns)


def _normalised(subjects: Iterable[str]) -> frozenset[str]:
    return frozenset(map(normalise, subjects))


@frozen
class ClientSubjects:
    """The allowed subjects; empty admits every client the TLS handshake admitted."""

    allowed: frozenset[str] = field(default=(), converter=_normalised)

    def admits(self, auth_context: Mapping[str, Iterable[bytes]]) -> bool:
        if not self.allowed:
            return True
        return any(
            normalise(subject.decode()) in self.allowed for subject in auth_context.get("x509_subject", ())
        )


def subject_of(auth_context: Mapping[str, Iterable[bytes]]) -> str:
    """The peer's subject as it would be written in allowed_subjects, for error messages."""
    subjects = [normalise(subject.decode()) for subject in auth_context.get("x509_subject", ())]
    return ", ".join(subjects) or "(no client certificate)"

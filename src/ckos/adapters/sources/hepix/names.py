"""Distinguished names: the legacy OpenSSL one-line form (`/DC=EU/CN=x`) and RFC 4514, compared as names.

HEPiX lists and IGTF configurations write DNs in the legacy form, in certificate order, with
OpenSSL's short attribute names; an operator may paste the RFC 4514 form instead (reversed,
escaped). Both are parsed into the same ordered list of (OID, value) pairs before comparing.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from ckos.domain.errors import SourceInvalid

Name = tuple[tuple[str, str], ...]  # (dotted OID, value), in certificate order

# OpenSSL's short names (OBJ_nid2sn) of the attributes found in subject names.
SHORT_NAMES = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.USER_ID: "UID",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.SURNAME: "SN",
    NameOID.GIVEN_NAME: "GN",
    NameOID.TITLE: "title",
    NameOID.STREET_ADDRESS: "street",
    NameOID.POSTAL_CODE: "postalCode",
    NameOID.PSEUDONYM: "pseudonym",
    NameOID.INITIALS: "initials",
    NameOID.GENERATION_QUALIFIER: "generationQualifier",
    NameOID.DN_QUALIFIER: "dnQualifier",
    NameOID.BUSINESS_CATEGORY: "businessCategory",
    ObjectIdentifier("2.5.4.41"): "name",
}
# Keys accepted when parsing, case-insensitively: the short names and the usual aliases.
_KEYS = {short.lower(): oid.dotted_string for oid, short in SHORT_NAMES.items()} | {
    "e": NameOID.EMAIL_ADDRESS.dotted_string,
    "email": NameOID.EMAIL_ADDRESS.dotted_string,
    "s": NameOID.STATE_OR_PROVINCE_NAME.dotted_string,
    "street": NameOID.STREET_ADDRESS.dotted_string,
    "userid": NameOID.USER_ID.dotted_string,
}
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)+")
# A "/" starts a new attribute only when `KEY=` follows (values may hold a "/").
_LEGACY_SPLIT = re.compile(r"/(?=(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)=)")
_HEX_ESCAPE = re.compile(rb"\\x([0-9A-Fa-f]{2})")


def name_of(name: x509.Name) -> Name:
    """A certificate's name as (OID, value) pairs, in certificate order."""
    return tuple((attribute.oid.dotted_string, _text(attribute.value)) for attribute in name)


def legacy(name: Name) -> str:
    """The legacy OpenSSL one-line form: `/K=V` per attribute, in certificate order."""
    shorts = {oid.dotted_string: short for oid, short in SHORT_NAMES.items()}
    return "".join(f"/{shorts.get(oid, oid)}={value}" for oid, value in name)


def parse(text: str) -> Name:
    """A DN written in the legacy form (leading `/`) or in RFC 4514 form (`CN=x,O=y`)."""
    if text.startswith("/"):
        parts = [part.partition("=") for part in _LEGACY_SPLIT.split(text[1:])]
        if any(not sep for _, sep, _ in parts):
            raise SourceInvalid(f"not a distinguished name: {text!r}")
        return tuple((_oid(key, text), _unescape(value)) for key, _, value in parts)
    try:
        parsed = x509.Name.from_rfc4514_string(
            text, {key: ObjectIdentifier(oid) for key, oid in _KEYS.items()}
        )
    except ValueError:
        raise SourceInvalid(f"not a distinguished name: {text!r}") from None
    return name_of(parsed)


def _oid(key: str, text: str) -> str:
    if _DOTTED.fullmatch(key):
        return key
    if key.lower() not in _KEYS:
        raise SourceInvalid(f"unknown attribute {key!r} in the distinguished name {text!r}")
    return _KEYS[key.lower()]


def _unescape(value: str) -> str:
    # X509_NAME_oneline writes bytes outside printable ASCII as \xHH (UTF-8 bytes).
    if "\\x" not in value:
        return value
    raw = _HEX_ESCAPE.sub(lambda match: bytes([int(match[1], 16)]), value.encode("utf-8"))
    return raw.decode("utf-8", errors="replace")


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", errors="replace")

"""The S/MIME envelope of a signed list, split exactly as OpenSSL's SMIME_read_PKCS7 splits it.

A detached signature (`multipart/signed`) covers part 1 as OpenSSL rebuilds it: lines (read in
chunks of at most 1023 bytes) stripped of their trailing CR/LF and joined with CRLF, without the
line end before the boundary. The opaque form (`application/pkcs7-mime`) carries its content
inside the signature.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator

from attrs import frozen

from ckos.domain.errors import SourceInvalid

_LINE = 1023  # BIO_get_line(bio, buffer, MAX_SMLEN = 1024)
_SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
_OPAQUE_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")


@frozen
class Envelope:
    signature: bytes  # DER of the PKCS#7 ContentInfo
    detached_content: bytes | None  # the signed bytes of a multipart/signed, None when opaque


def split(message: bytes) -> Envelope:
    """The signature and, for a detached one, the exact bytes it signs."""
    lines = list(_lines(message))
    content_type, parameters, body = _headers(lines)
    if content_type == "multipart/signed":
        boundary = parameters.get("boundary")
        if not boundary:
            raise _not_smime("multipart/signed without a boundary")
        parts = _parts(body, boundary.encode())
        if len(parts) != 2:
            raise _not_smime(f"multipart/signed with {len(parts)} parts instead of 2")
        signature_type, _, signature = _headers(list(_lines(parts[1])))
        if signature_type not in _SIGNATURE_TYPES:
            raise _not_smime(f"the second part is {signature_type or 'untyped'}, not a PKCS#7 signature")
        return Envelope(signature=_base64(signature), detached_content=parts[0])
    if content_type in _OPAQUE_TYPES:
        return Envelope(signature=_base64(body), detached_content=None)
    raise _not_smime(f"content type {content_type or 'missing'}")


def _not_smime(why: str) -> SourceInvalid:
    return SourceInvalid(f"not an S/MIME signed message: {why}")


def _lines(data: bytes) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        newline = data.find(b"\n", start, start + _LINE)
        stop = newline + 1 if newline != -1 else min(start + _LINE, len(data))
        yield data[start:stop]
        start = stop


def _headers(lines: list[bytes]) -> tuple[str, dict[str, str], list[bytes]]:
    """Content type (lower case), its parameters, and the lines after the blank line."""
    fields: list[str] = []
    for index, line in enumerate(lines):
        text = line.rstrip(b"\r\n").decode("latin-1")
        if not text.strip():
            return *_content_type(fields), lines[index + 1 :]
        if text[0] in " \t" and fields:
            fields[-1] += " " + text.strip()
        else:
            fields.append(text)
    return "", {}, []


def _content_type(fields: list[str]) -> tuple[str, dict[str, str]]:
    for field in fields:
        name, _, value = field.partition(":")
        if name.strip().lower() == "content-type":
            kind, *rest = value.split(";")
            parameters = {}
            for item in rest:
                key, _, parameter = item.partition("=")
                parameters[key.strip().lower()] = parameter.strip().strip('"')
            return kind.strip().lower(), parameters
    return "", {}


def _parts(lines: list[bytes], boundary: bytes) -> list[bytes]:
    """OpenSSL's multi_split: the parts between `--boundary` lines, up to `--boundary--`."""
    parts: list[bytearray] = []
    in_part = first = False
    eol = False
    for line in lines:
        if len(line) >= len(boundary) + 2 and line.startswith(b"--" + boundary):
            if line[len(boundary) + 2 :].startswith(b"--"):
                return [bytes(part) for part in parts]
            in_part = first = True
            continue
        if not in_part:
            continue
        stripped = line.rstrip(b"\r\n")
        next_eol = b"\n" in line[len(stripped) :]
        if first:
            first = False
            parts.append(bytearray())
        elif eol:
            parts[-1] += b"\r\n"
        eol = next_eol
        parts[-1] += stripped
    raise _not_smime("multipart/signed without its closing boundary")


def _base64(lines: list[bytes]) -> bytes:
    try:
        return base64.b64decode(b"".join(line.strip() for line in lines), validate=True)
    except (binascii.Error, ValueError):
        raise _not_smime("the signature is not base64") from None

"""The signer's certificate path, validated by OpenSSL itself over a hashed CA directory.

pyOpenSSL's X509Store reads the directory as `openssl smime -verify -CApath` does: `<hash>.0`
certificates and `<hash>.r0` CRLs (as fetch-crl writes them). The certificates of the signature
are untrusted intermediates.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from cryptography import x509
from OpenSSL import crypto

# pyOpenSSL wraps neither X509_STORE_set_purpose nor (undeprecated) X509_NAME_hash.
from OpenSSL._util import lib as _openssl

from ckos.adapters.sources.hepix import names
from ckos.domain.errors import SourceInvalid

CrlPolicy = Literal["required", "if-present", "off"]

_REVOKED = {_openssl.X509_V_ERR_CERT_REVOKED}
_NO_CRL = {_openssl.X509_V_ERR_UNABLE_TO_GET_CRL}
_STALE_CRL = {_openssl.X509_V_ERR_CRL_HAS_EXPIRED, _openssl.X509_V_ERR_CRL_NOT_YET_VALID}
_PURPOSE = {_openssl.X509_V_ERR_INVALID_PURPOSE}
_ALL_CRLS = crypto.X509StoreFlags.CRL_CHECK | crypto.X509StoreFlags.CRL_CHECK_ALL


def validate(
    signer: x509.Certificate,
    untrusted: list[x509.Certificate],
    *,
    ca_dir: Path,
    crl: CrlPolicy,
    purpose_any: bool,
    now: datetime | None,
) -> None:
    """Raise SourceInvalid unless `signer` chains to a CA of `ca_dir`, unrevoked as `crl` asks.

    `required` fails closed on a CA without a current CRL; `if-present` checks each certificate
    of the path whose issuer has a CRL file, and only those; `off` checks none.
    """
    leaf = crypto.X509.from_cryptography(signer)
    others = [crypto.X509.from_cryptography(certificate) for certificate in untrusted]
    flags = _ALL_CRLS if crl == "required" else 0
    path = _verify(leaf, others, ca_dir=ca_dir, flags=flags, smime=not purpose_any, now=now)
    if crl != "if-present":
        return
    for certificate, issuer in zip(path, path[1:] + path[-1:], strict=True):
        if any(ca_dir.glob(f"{_subject_hash(issuer):08x}.r[0-9]*")):
            _verify(certificate, others, ca_dir=ca_dir, flags=crypto.X509StoreFlags.CRL_CHECK, now=now)


def _verify(
    certificate: crypto.X509,
    untrusted: list[crypto.X509],
    *,
    ca_dir: Path,
    flags: int,
    now: datetime | None,
    smime: bool = False,
) -> list[crypto.X509]:
    store = crypto.X509Store()
    store.load_locations(None, str(ca_dir))
    if flags:
        store.set_flags(flags)
    if now is not None:
        store.set_time(now)
    if smime:
        # The purpose `openssl smime -verify` checks: emailProtection (when the leaf has an
        # EKU) and digitalSignature or nonRepudiation (when it has a key usage).
        _openssl.X509_STORE_set_purpose(store._store, _openssl.X509_PURPOSE_SMIME_SIGN)
    context = crypto.X509StoreContext(store, certificate, untrusted)
    try:
        return context.get_verified_chain()
    except crypto.X509StoreContextError as error:
        raise _refusal(error) from None


def _subject_hash(certificate: crypto.X509) -> int:
    """X509_NAME_hash of the subject: the `<hash>` of `<hash>.0` and `<hash>.r0` in a CA directory."""
    subject = _openssl.X509_get_subject_name(certificate._x509)
    return int(_openssl.X509_NAME_hash(subject))


def _refusal(error: crypto.X509StoreContextError) -> SourceInvalid:
    code, depth, message = error.errors
    subject = names.legacy(names.name_of(error.certificate.to_cryptography().subject))
    where = f"(depth {depth}: {subject})"
    if code in _REVOKED:
        who = "the signer's certificate" if depth == 0 else "a CA of the signer's chain"
        return SourceInvalid(f"{who} is revoked {where}")
    if code in _NO_CRL:
        return SourceInvalid(f"no CRL in the CA directory for a CA of the signer's chain {where}")
    if code in _STALE_CRL:
        return SourceInvalid(f"the CRL for a CA of the signer's chain is stale: {message} {where}")
    if code in _PURPOSE:
        return SourceInvalid(f"the signer's certificate is not for S/MIME signing {where}")
    return SourceInvalid(f"the signer's certificate is not trusted: {message} {where}")

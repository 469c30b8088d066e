"""S/MIME verification of a signed image list, in Python (asn1crypto, cryptography, pyOpenSSL).

`cryptography` cannot verify PKCS#7 signatures: asn1crypto reads the SignedData, cryptography
checks the signature over its signed attributes, and OpenSSL's own path validation (through
pyOpenSSL) checks the signer's chain and CRLs. Every failure raises SourceInvalid, with a message
telling apart a tampered list, an untrusted or revoked signer, a missing or stale CRL and the
wrong endorser.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms  # type: ignore[import-untyped]
from attrs import frozen
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ckos.adapters.sources.hepix import chain, names
from ckos.adapters.sources.hepix.envelope import split
from ckos.domain.errors import SourceInvalid

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@frozen
class VerifiedList:
    content: bytes  # the signed bytes, as they were signed
    signer_dn: str  # the signer's subject, legacy one-line form (`/DC=EU/.../CN=x`)
    signer_issuer_dn: str  # the signer's issuer, same form


def verify(
    message: bytes,
    *,
    ca_dir: Path,
    endorser_dn: str,
    crl: chain.CrlPolicy,
    purpose_any: bool = False,
    now: datetime | None = None,
) -> VerifiedList:
    """The content of `message` if it is signed by `endorser_dn`, trusted through `ca_dir`.

    The DN may be given in the legacy form or in RFC 4514 form; it is compared as a name.
    """
    endorser = names.parse(endorser_dn)
    envelope = split(message)
    try:
        signed, content = _signed_data(envelope.signature, envelope.detached_content)
        signer_info = _one_signer(signed)
        certificates = [
            choice.chosen for choice in signed["certificates"] or [] if choice.name == "certificate"
        ]
        signer = _signer_certificate(signer_info, certificates)
        algorithm = _digest_algorithm(signer_info)
        _check_attributes(signer_info, content, algorithm)
        leaf = x509.load_der_x509_certificate(signer.dump())
        others = [
            x509.load_der_x509_certificate(other.dump()) for other in certificates if other is not signer
        ]
        _check_signature(signer_info, leaf, algorithm)
    except (ValueError, TypeError, KeyError) as error:
        raise SourceInvalid(f"not a valid PKCS#7 signature: {error}") from None
    chain.validate(leaf, others, ca_dir=ca_dir, crl=crl, purpose_any=purpose_any, now=now)
    subject = names.name_of(leaf.subject)
    if subject != endorser:
        raise SourceInvalid(
            f"the list is signed by {names.legacy(subject)}, not by the endorser {endorser_dn}"
        )
    return VerifiedList(
        content=content,
        signer_dn=names.legacy(subject),
        signer_issuer_dn=names.legacy(names.name_of(leaf.issuer)),
    )


def _signed_data(der: bytes, detached: bytes | None) -> tuple[Any, bytes]:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise SourceInvalid(f"not S/MIME signed data but {info['content_type'].native}")
    signed = info["content"]
    encapsulated = signed["encap_content_info"]
    if encapsulated["content_type"].native != "data":
        raise SourceInvalid(f"the signed content is {encapsulated['content_type'].native}, not data")
    inner: bytes | None = encapsulated["content"].native  # None when absent (detached)
    if detached is not None and inner is None:
        return signed, detached
    if detached is None and inner is not None:
        return signed, inner
    raise SourceInvalid("not S/MIME: the signed content must be either attached or detached")


def _one_signer(signed: Any) -> Any:
    signers = list(signed["signer_infos"])
    if len(signers) != 1:
        raise SourceInvalid(f"the list has {len(signers)} signers; exactly one is accepted")
    return signers[0]


def _signer_certificate(signer_info: Any, certificates: list[Any]) -> Any:
    sid = signer_info["sid"]
    if sid.name == "issuer_and_serial_number":
        issuer, serial = sid.chosen["issuer"], sid.chosen["serial_number"].native
        matches = [c for c in certificates if c.issuer == issuer and c.serial_number == serial]
    else:
        matches = [c for c in certificates if c.key_identifier == sid.native]
    if len(matches) != 1:
        raise SourceInvalid(
            f"the signature carries {len(matches)} certificates of its signer; exactly one is needed"
        )
    return matches[0]


def _digest_algorithm(signer_info: Any) -> str:
    algorithm: str = signer_info["digest_algorithm"]["algorithm"].native
    if algorithm not in _HASHES:
        raise SourceInvalid(f"digest algorithm {algorithm} is not accepted (sha256, sha384, sha512)")
    return algorithm


def _check_attributes(signer_info: Any, content: bytes, algorithm: str) -> None:
    attributes: dict[str, list[Any]] = {}
    for attribute in signer_info["signed_attrs"] or []:
        name = attribute["type"].native
        if name in attributes:
            raise SourceInvalid(f"the signed attribute {name} is repeated")
        attributes[name] = [value.native for value in attribute["values"]]
    if attributes.get("content_type") != ["data"]:
        raise SourceInvalid("the signature has no signed content type `data`")
    expected = hashlib.new(algorithm, content).digest()
    if attributes.get("message_digest") != [expected]:
        raise SourceInvalid("the list does not match its signature (message digest mismatch): tampered?")


def _check_signature(signer_info: Any, certificate: x509.Certificate, algorithm: str) -> None:
    # The signature covers the DER of the signed attributes as a SET OF, not as [0] IMPLICIT.
    signed = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    signature: bytes = signer_info["signature"].native
    scheme = signer_info["signature_algorithm"]
    kind = scheme.signature_algo
    digest = _HASHES[algorithm]()
    key = certificate.public_key()
    try:
        named = (
            scheme.hash_algo
            if kind != "rsassa_pss"
            else scheme["parameters"]["hash_algorithm"]["algorithm"].native
        )
    except ValueError:
        named = algorithm  # rsaEncryption or id-ecPublicKey: the digest algorithm decides
    if named != algorithm:
        raise SourceInvalid(f"the signature uses {named} but the digest algorithm is {algorithm}")
    try:
        if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), digest)
        elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            parameters = scheme["parameters"]
            mgf = _HASHES[parameters["mask_gen_algorithm"]["parameters"]["algorithm"].native]()
            pss = padding.PSS(mgf=padding.MGF1(mgf), salt_length=parameters["salt_length"].native)
            key.verify(signature, signed, pss, digest)
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(digest))
        else:
            raise SourceInvalid(f"signature algorithm {kind} does not fit the signer's {type(key).__name__}")
    except (InvalidSignature, UnsupportedAlgorithm, KeyError):
        raise SourceInvalid("the signature does not verify with the signer's certificate") from None

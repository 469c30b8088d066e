"""S/MIME verification of signed lists, every verdict held to `openssl smime -verify`."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from attrs import frozen

from ckos.adapters.sources.hepix.smime import VerifiedList, verify
from ckos.domain.errors import SourceInvalid
from support import pki

LIST = (
    Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "imagelists" / "imagelist_v1.json"
).read_bytes()
ENDORSER = "/DC=org/DC=ckos-tests/O=Hosts/CN=lists.example.org"
ISSUER = "/DC=org/DC=ckos-tests/CN=ckos tests intermediate CA"


@frozen
class World:
    root: pki.Authority
    intermediate: pki.Authority
    signer: pki.Identity
    rsa_signer: pki.Identity
    revoked: pki.Identity
    host: pki.Identity
    stranger: pki.Identity  # another signer with the emailProtection EKU
    dirs: dict[str, Path]


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("pki")
    root = pki.root(folder, "root", "/DC=org/DC=ckos-tests/CN=ckos tests root CA")
    intermediate = root.intermediate("intermediate", ISSUER, serial=2)
    signer = intermediate.issue("signer", ENDORSER, profile="signer", serial=10)
    rsa_signer = intermediate.issue("rsa", ENDORSER, profile="signer", serial=11, key=pki.RSA)
    revoked = intermediate.issue("revoked", ENDORSER, profile="signer", serial=12)
    host = intermediate.issue("host", ENDORSER, profile="host", serial=13)
    stranger = intermediate.issue(
        "stranger", "/DC=org/DC=ckos-tests/CN=someone else", profile="signer", serial=14
    )
    intermediate.revoke(revoked)
    root_crl, crl = root.crl("root"), intermediate.crl("intermediate")
    expired_crl = intermediate.crl("intermediate-expired", expired=True)
    other = pki.root(tmp_path_factory.mktemp("other"), "other", "/DC=org/DC=elsewhere/CN=another root CA")
    cas = (root.certificate, intermediate.certificate)
    dirs = {
        "igtf": pki.ca_dir(folder / "igtf", *cas, root_crl, crl),
        "no-crl": pki.ca_dir(folder / "no-crl", *cas),
        "no-intermediate-crl": pki.ca_dir(folder / "no-intermediate-crl", *cas, root_crl),
        "expired-crl": pki.ca_dir(folder / "expired-crl", *cas, root_crl, expired_crl),
        "root-only": pki.ca_dir(folder / "root-only", root.certificate, root_crl, crl),
        "wrong": pki.ca_dir(folder / "wrong", other.certificate, other.crl("other")),
    }
    return World(root, intermediate, signer, rsa_signer, revoked, host, stranger, dirs)


@frozen
class Case:
    message: Callable[[World], bytes]
    ca_dir: str = "igtf"
    crl: str = "required"
    purpose_any: bool = False
    endorser: str = ENDORSER
    refused: str | None = None  # the error expected, None when the list is accepted
    oracle: tuple[str, ...] | None = ("-crl_check_all",)  # openssl's options, None: no oracle
    oracle_tool: str = "smime"  # OpenSSL's PKCS#7 code knows no RSA-PSS: `cms -verify` does

    def verify(self, world: World) -> VerifiedList:
        return verify(
            self.message(world),
            ca_dir=world.dirs[self.ca_dir],
            endorser_dn=self.endorser,
            crl=self.crl,  # type: ignore[arg-type]
            purpose_any=self.purpose_any,
        )


def signed(
    *who: str, detached: bool = True, tool: str = "smime", options: tuple[str, ...] = ()
) -> Callable[[World], bytes]:
    def build(world: World) -> bytes:
        signers = [getattr(world, name) for name in who or ("signer",)]
        extra = [world.intermediate.certificate]
        return pki.sign(LIST, *signers, extra=extra, detached=detached, tool=tool, options=options)

    return build


def tampered_content(world: World) -> bytes:
    return signed()(world).replace(b"Ubuntu 18.04", b"Ubuntu 18.05", 1)


def tampered_signature(world: World) -> bytes:
    message = signed()(world)
    # The signature value ends the DER: change its last byte, keep the encoding valid.
    match = re.search(rb'filename="smime.p7s"\r?\n\r?\n([A-Za-z0-9+/=\r\n]+)', message)
    assert match
    der = bytearray(base64.b64decode(match[1]))
    der[-1] ^= 0x01
    return message.replace(match[1], base64.encodebytes(bytes(der)))


CASES = {
    "detached": Case(signed()),
    "opaque": Case(signed(detached=False)),
    "rsa": Case(signed("rsa_signer")),
    "cms-rsa-pss": Case(
        signed("rsa_signer", tool="cms", options=("-keyopt", "rsa_padding_mode:pss")), oracle_tool="cms"
    ),
    "cms-sha512": Case(signed(tool="cms", options=("-md", "sha512"))),
    "intermediate-from-the-signature": Case(signed(), ca_dir="root-only"),
    "tampered-content": Case(tampered_content, refused="message digest mismatch"),
    "tampered-signature": Case(tampered_signature, refused="signature does not verify|not a valid PKCS#7"),
    "wrong-ca-dir": Case(signed(), ca_dir="wrong", refused="not trusted"),
    "revoked-crl-required": Case(signed("revoked"), refused="signer's certificate is revoked"),
    "revoked-crl-if-present": Case(
        signed("revoked"), crl="if-present", refused="signer's certificate is revoked"
    ),
    "revoked-crl-off": Case(signed("revoked"), crl="off", oracle=()),
    "crl-missing-required": Case(signed(), ca_dir="no-intermediate-crl", refused="no CRL"),
    "crl-missing-if-present": Case(signed(), ca_dir="no-intermediate-crl", crl="if-present", oracle=()),
    "no-crl-at-all-if-present": Case(signed(), ca_dir="no-crl", crl="if-present", oracle=()),
    "revoked-no-crl-if-present": Case(signed("revoked"), ca_dir="no-crl", crl="if-present", oracle=()),
    "crl-expired": Case(signed(), ca_dir="expired-crl", refused="CRL .* is stale"),
    "crl-expired-if-present": Case(signed(), ca_dir="expired-crl", crl="if-present", refused="stale"),
    "wrong-endorser": Case(signed("stranger"), refused="signed by /DC=org/DC=ckos-tests/CN=someone else"),
    "endorser-rfc4514": Case(signed(), endorser="CN=lists.example.org,O=Hosts,DC=ckos-tests,DC=org"),
    "endorser-rfc4514-reversed": Case(
        signed(), endorser="DC=org,DC=ckos-tests,O=Hosts,CN=lists.example.org", refused="not by the endorser"
    ),
    "two-signers": Case(signed("signer", "stranger"), refused="2 signers"),
    "server-auth-only": Case(signed("host"), refused="not for S/MIME signing"),
    "server-auth-purpose-any": Case(
        signed("host"), purpose_any=True, oracle=("-crl_check_all", "-purpose", "any")
    ),
    "not-smime": Case(lambda world: LIST, refused="not an S/MIME", oracle=("-crl_check_all",)),
}


# Refused by policy, not by OpenSSL: the endorser DN, and a second signer (vmcatcher's rule).
OURS_ALONE = {"wrong-endorser", "endorser-rfc4514-reversed", "two-signers"}


@pytest.mark.parametrize("name", CASES)
def test_verdicts(world: World, name: str) -> None:
    case = CASES[name]
    message = case.message(world)
    if case.refused is None:
        verified = case.verify(world)
        assert verified.content.replace(b"\r\n", b"\n") == LIST
        assert verified.signer_issuer_dn == ISSUER
    else:
        with pytest.raises(SourceInvalid, match=case.refused):
            case.verify(world)
    if case.oracle is not None:
        accepted, complaint = pki.oracle(
            message, world.dirs[case.ca_dir], *case.oracle, tool=case.oracle_tool
        )
        # The oracle knows no endorser: a wrong signer DN is ours alone to refuse.
        expected = case.refused is None or name in OURS_ALONE
        assert accepted == expected, complaint


def test_the_signer_dn_in_the_legacy_form(world: World) -> None:
    verified = CASES["detached"].verify(world)
    assert verified.signer_dn == ENDORSER
    assert verified.content == pki.run("smime", "-verify", "-noverify", "-in", _write(world, signed()(world)))


def _write(world: World, message: bytes) -> Path:
    path = world.root.folder.parent / "message.smime"
    path.write_bytes(message)
    return path


def test_a_certificate_outside_its_validity_is_refused(world: World) -> None:
    later = datetime.now(UTC) + timedelta(days=400)
    with pytest.raises(SourceInvalid, match="certificate has expired"):
        verify(signed()(world), ca_dir=world.dirs["igtf"], endorser_dn=ENDORSER, crl="off", now=later)
    accepted, _ = pki.oracle(signed()(world), world.dirs["igtf"], "-attime", str(int(later.timestamp())))
    assert not accepted


def test_crlf_and_long_lines_are_canonicalised_as_openssl_does(world: World) -> None:
    content = b'{"a": "' + b"x" * 3000 + b'",\r\n "b": "\\r"}\n\n'
    message = pki.sign(content, world.signer, extra=[world.intermediate.certificate])
    verified = verify(message, ca_dir=world.dirs["igtf"], endorser_dn=ENDORSER, crl="required")
    assert pki.oracle(message, world.dirs["igtf"], "-crl_check_all")[0]
    assert verified.content == pki.run(
        "smime", "-verify", "-noverify", "-binary", "-in", _write(world, message)
    )


def test_an_unparsable_endorser_dn_is_refused(world: World) -> None:
    with pytest.raises(SourceInvalid, match=re.escape("unknown attribute")):
        verify(signed()(world), ca_dir=world.dirs["igtf"], endorser_dn="/XX=1", crl="off")


CORE = Path(__file__).parent / "core_signed"
CORE_SIGNER = "/C=AU/ST=Some-State/O=Internet Widgits Pty Ltd"
WHILE_VALID = datetime(2025, 6, 1, tzinfo=UTC)  # the core's test certificate expires in 2028


@pytest.mark.parametrize(
    ("name", "refused"),
    [("imagelist01", None), ("imagelist04", None), ("imagelist_invalid", "message digest mismatch")],
)
def test_the_cores_own_signed_lists(name: str, refused: str | None) -> None:
    message = (CORE / f"{name}.signed").read_bytes()
    accepted, complaint = pki.oracle(message, CORE / "ca", "-attime", str(int(WHILE_VALID.timestamp())))
    assert accepted == (refused is None), complaint
    check = {"ca_dir": CORE / "ca", "endorser_dn": CORE_SIGNER, "crl": "if-present", "now": WHILE_VALID}
    if refused is None:
        verified = verify(message, **check)  # type: ignore[arg-type]
        assert (verified.signer_dn, verified.signer_issuer_dn) == (CORE_SIGNER, CORE_SIGNER)
        assert b'"hv:imagelist"' in verified.content
    else:
        with pytest.raises(SourceInvalid, match=refused):
            verify(message, **check)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        (lambda m: m.replace(b"Content-Type: multipart/signed", b"Content-Type: text/plain"), "text/plain"),
        (lambda m: m.replace(b"application/x-pkcs7-signature;", b"text/plain;"), "not a PKCS#7 signature"),
        (lambda m: m.rstrip(b"\r\n-").rpartition(b"\n")[0], "closing boundary"),
        (lambda m: re.sub(rb'boundary="[^"]*"', b'boundary="elsewhere"', m), "closing boundary"),
    ],
    ids=["not-multipart", "second-part-not-a-signature", "no-closing-boundary", "other-boundary"],
)
def test_broken_envelopes(world: World, change: Callable[[bytes], bytes], refused: str) -> None:
    message = change(signed()(world))
    with pytest.raises(SourceInvalid, match=refused):
        verify(message, ca_dir=world.dirs["igtf"], endorser_dn=ENDORSER, crl="off")
    assert not pki.oracle(message, world.dirs["igtf"])[0]

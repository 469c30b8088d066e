"""An offline IGTF-like PKI made with the `openssl` command line, and lists signed with it.

Root and intermediate CAs (EC P-256), signers issued by the intermediate, CRLs written by
`openssl ca -gencrl`, and hashed CA directories (`openssl rehash`: `<hash>.0`, `<hash>.r0`) as
fetch-crl leaves them. `openssl smime -verify` is the oracle the Python verifier is held to.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from attrs import frozen

EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
RSA = ("-newkey", "rsa:2048")
EXTENSIONS = """
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[signer]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[host]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
CA_CONFIG = """
[ca]
default_ca = this
[this]
database = {folder}/index.txt
crlnumber = {folder}/crlnumber
default_md = sha256
default_crl_days = 30
"""


def openssl(*arguments: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, arguments)], input=stdin, capture_output=True, check=False)


def run(*arguments: str | Path) -> bytes:
    done = openssl(*arguments)
    if done.returncode:
        raise RuntimeError(f"openssl {' '.join(map(str, arguments))}: {done.stderr.decode()}")
    return done.stdout


@frozen
class Identity:
    certificate: Path
    key: Path
    subject: str  # legacy one-line form


@frozen
class Authority(Identity):
    folder: Path

    def issue(
        self, name: str, subject: str, *, profile: str, serial: int, key: Sequence[str] = EC
    ) -> Identity:
        """A certificate issued by this CA; profile is a section of EXTENSIONS (ca, signer, host)."""
        target = self.folder.parent / name
        request = target.with_suffix(".csr")
        run(
            "req",
            "-new",
            *key,
            "-nodes",
            "-keyout",
            target.with_suffix(".key"),
            "-subj",
            subject,
            "-out",
            request,
        )
        run(
            "x509", "-req", "-in", request, "-CA", self.certificate, "-CAkey", self.key,
            "-set_serial", str(serial), "-days", "365", "-sha256",
            "-extfile", self.folder.parent / "extensions.cnf", "-extensions", profile,
            "-out", target.with_suffix(".pem"),
        )  # fmt: skip
        return Identity(target.with_suffix(".pem"), target.with_suffix(".key"), subject)

    def intermediate(self, name: str, subject: str, *, serial: int) -> Authority:
        issued = self.issue(name, subject, profile="ca", serial=serial)
        return _authority(issued)

    def revoke(self, identity: Identity) -> None:
        run("ca", "-config", self.folder / "ca.cnf", "-cert", self.certificate, "-keyfile", self.key,
            "-revoke", identity.certificate)  # fmt: skip

    def crl(self, name: str, *, expired: bool = False) -> Path:
        """A CRL of this CA (current, or one whose nextUpdate has passed)."""
        times = (
            ("-crl_lastupdate", "20200101000000Z", "-crl_nextupdate", "20200102000000Z") if expired else ()
        )
        target = self.folder.parent / f"{name}.crl.pem"
        run("ca", "-config", self.folder / "ca.cnf", "-cert", self.certificate, "-keyfile", self.key,
            "-gencrl", *times, "-out", target)  # fmt: skip
        return target


def _authority(identity: Identity) -> Authority:
    folder = identity.certificate.with_suffix(".ca")
    folder.mkdir()
    (folder / "index.txt").write_text("")
    (folder / "crlnumber").write_text("01\n")
    (folder / "ca.cnf").write_text(CA_CONFIG.format(folder=folder))
    return Authority(identity.certificate, identity.key, identity.subject, folder)


def root(folder: Path, name: str, subject: str) -> Authority:
    """A self-signed root CA."""
    (folder / "extensions.cnf").write_text(EXTENSIONS)
    certificate, key = folder / f"{name}.pem", folder / f"{name}.key"
    run("req", "-x509", "-new", *EC, "-nodes", "-keyout", key, "-subj", subject, "-days", "365", "-sha256",
        "-config", folder / "extensions.cnf", "-extensions", "ca", "-out", certificate)  # fmt: skip
    return _authority(Identity(certificate, key, subject))


def ca_dir(folder: Path, *files: Path) -> Path:
    """A hashed CA directory holding these certificates and CRLs."""
    folder.mkdir()
    for file in files:
        shutil.copy(file, folder / file.name)
    run("rehash", folder)
    return folder


def sign(
    content: bytes, *signers: Identity, extra: Sequence[Path] = (), detached: bool = True,
    tool: str = "smime", options: Sequence[str] = (),
) -> bytes:  # fmt: skip
    """`openssl smime|cms -sign` of content (S/MIME), with extra certificates in the signature."""
    arguments: list[str | Path] = [tool, "-sign", "-md", "sha256"]
    for signer in signers:
        arguments += ["-signer", signer.certificate, "-inkey", signer.key]
    arguments += options  # after the signers: cms -keyopt applies to the signer before it
    for certificate in extra:
        arguments += ["-certfile", certificate]
    if not detached:
        arguments.append("-nodetach")
    done = openssl(*arguments, stdin=content)
    if done.returncode:
        raise RuntimeError(done.stderr.decode())
    return done.stdout


def oracle(message: bytes, capath: Path, *options: str, tool: str = "smime") -> tuple[bool, str]:
    """`openssl smime -verify`'s verdict (or `cms -verify`'s) and its complaint."""
    done = openssl(tool, "-verify", "-CApath", capath, *options, "-out", "/dev/null", stdin=message)
    return done.returncode == 0, done.stderr.decode()

"""A throwaway CA with server and client certificates, for mutual TLS tests."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@frozen
class Identity:
    certificate: Path
    key: Path

    def pair(self) -> tuple[bytes, bytes]:
        """(key, certificate) PEM bytes, as grpc.ssl_channel_credentials wants them."""
        return self.key.read_bytes(), self.certificate.read_bytes()


@frozen
class Authority:
    certificate: Path
    key: ec.EllipticCurvePrivateKey
    folder: Path

    def issue(
        self,
        name: str,
        *,
        server: bool,
        organization: str = "ckos tests",
        addresses: tuple[str, ...] | list[str] = ("127.0.0.1",),
    ) -> Identity:
        """A certificate for `name` (CN); for a server, IP SANs for `addresses` and DNS localhost."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = _builder(subject, self._name(), key).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if server:
            names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in addresses]
            names.append(x509.DNSName("localhost"))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        return _write(self.folder, name, certificate, key)

    def intermediate(self, name: str) -> Authority:
        """A CA signed by this one; its certificate file holds only its own certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            _builder(subject, self._name(), key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        identity = _write(self.folder, name.replace(" ", "-"), certificate, key)
        return Authority(identity.certificate, key, self.folder)

    def _name(self) -> x509.Name:
        return x509.load_pem_x509_certificate(self.certificate.read_bytes()).subject


def authority(folder: Path, name: str = "ckos test CA") -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        _builder(subject, subject, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    identity = _write(folder, name.replace(" ", "-"), certificate, key)
    return Authority(identity.certificate, key, folder)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _write(
    folder: Path, name: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> Identity:
    folder.mkdir(parents=True, exist_ok=True)
    certificate_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Identity(certificate_path, key_path)

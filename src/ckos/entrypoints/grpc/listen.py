"""Binding the listener: mutual TLS when configured, plain text only where it is safe."""

from __future__ import annotations

import ipaddress
import ssl

import grpc

from ckos.config import ConfigError, ServerSettings, TLSSettings


class InsecureListenRefused(ConfigError):
    """Plain text on a non-loopback address, without allow_insecure_remote."""


class ListenFailed(RuntimeError):
    """The address cannot be bound now (in use, or not an address of this host)."""


def split_listen(listen: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 hosts in brackets) as host and port."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"server.listen must be HOST:PORT, not {listen!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere: assume it is reachable from outside


def bind(server: grpc.aio.Server, settings: ServerSettings) -> int:
    """Add the listening port to the server and return the port actually bound."""
    host, _ = split_listen(settings.listen)
    try:
        if settings.tls.certificate is not None:
            port = server.add_secure_port(settings.listen, server_credentials(settings.tls))
        elif is_loopback(host) or settings.allow_insecure_remote:
            port = server.add_insecure_port(settings.listen)
        else:
            # Whoever reaches the port could add, replace and remove images in every mapped project.
            raise InsecureListenRefused(
                f"refusing to listen without TLS on {settings.listen}, which is not a loopback address: "
                "configure server.tls, or set server.allow_insecure_remote = true"
            )
    except RuntimeError:  # grpcio's way of saying the bind failed; its details go to its own log
        port = 0
    if port == 0:
        raise ListenFailed(f"could not listen on {settings.listen}: in use, or not an address of this host")
    return port


def server_credentials(tls: TLSSettings) -> grpc.ServerCredentials:
    """Mutual TLS: our key and chain, and the CA that signs the core's certificate."""
    if tls.certificate is None or tls.key is None or tls.client_ca is None:
        raise ConfigError("server.tls needs certificate, key and client_ca")
    try:
        chain, key, client_ca = (path.read_bytes() for path in (tls.certificate, tls.key, tls.client_ca))
    except OSError as error:
        raise ConfigError(f"server.tls: cannot read {error.filename}: {error.strerror}") from None
    _check_pem(tls)
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=client_ca, require_client_auth=True)


def _check_pem(tls: TLSSettings) -> None:
    """Refuse unusable files with a clear message; grpcio would only fail to bind the port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

    def no_passphrase() -> str:
        raise ConfigError(f"server.tls.key {tls.key} is encrypted: give a key without a passphrase")

    try:
        context.load_cert_chain(str(tls.certificate), str(tls.key), password=no_passphrase)
    except ssl.SSLError as error:
        raise ConfigError(
            f"server.tls: {tls.certificate} and {tls.key} are not a PEM certificate chain and its "
            f"private key ({error.reason or error})"
        ) from None
    try:
        context.load_verify_locations(cafile=str(tls.client_ca))
    except ssl.SSLError as error:
        raise ConfigError(
            f"server.tls.client_ca {tls.client_ca} holds no PEM CA certificate ({error.reason or error})"
        ) from None

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization

from ckos.config import ConfigError, ServerSettings, TLSSettings
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc.peers import ClientSubjects, normalise
from support.certificates import Authority, Identity, authority
from support.grpc_server import running_server
from support.scripted_backend import ScriptedBackend


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return authority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def server_identity(ca: Authority) -> Identity:
    return ca.issue("backend", server=True)


@pytest.fixture(scope="module")
def core(ca: Authority) -> Identity:
    return ca.issue("core.example.org", server=False)


def tls_settings(ca: Authority, server_identity: Identity, *subjects: str) -> ServerSettings:
    tls = TLSSettings(server_identity.certificate, server_identity.key, ca.certificate, subjects)
    return ServerSettings(tls=tls)


@pytest.fixture
def address(ca: Authority, server_identity: Identity) -> Iterator[str]:
    with running_server(ScriptedBackend(), tls_settings(ca, server_identity)) as address:
        yield address


def call(address: str, trusted: Path, client: Identity | None) -> None:
    pair = client.pair() if client else (None, None)
    credentials = grpc.ssl_channel_credentials(trusted.read_bytes(), *pair)
    with grpc.secure_channel(address, credentials) as channel:
        pb.CommunicatorStub(channel).pre_action()


def test_a_client_certificate_of_the_ca_is_admitted(address: str, ca: Authority, core: Identity) -> None:
    call(address, ca.certificate, core)


def test_a_client_without_certificate_is_refused(address: str, ca: Authority) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        call(address, ca.certificate, None)
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE


def test_a_certificate_of_another_ca_is_refused(address: str, ca: Authority, tmp_path: Path) -> None:
    stranger = authority(tmp_path, "other CA").issue("core.example.org", server=False)
    with pytest.raises(grpc.RpcError) as raised:
        call(address, ca.certificate, stranger)
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE


def test_a_plain_text_client_is_refused(address: str) -> None:
    with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as raised:
        pb.CommunicatorStub(channel).pre_action()
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    "allowed",
    [
        "/O=ckos tests/CN=core.example.org",
        "CN=core.example.org,O=ckos tests",
        "cn=core.example.org, o=ckos tests",
    ],
)
def test_allowed_subjects_admit_the_named_client(
    ca: Authority, server_identity: Identity, core: Identity, allowed: str
) -> None:
    with running_server(ScriptedBackend(), tls_settings(ca, server_identity, allowed)) as address:
        call(address, ca.certificate, core)


def test_allowed_subjects_refuse_other_clients(
    ca: Authority, server_identity: Identity, core: Identity
) -> None:
    settings = tls_settings(ca, server_identity, "/O=ckos tests/CN=other.example.org")
    with running_server(ScriptedBackend(), settings) as address, pytest.raises(grpc.RpcError) as raised:
        call(address, ca.certificate, core)
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "/O=ckos tests/CN=core.example.org" in (raised.value.details() or "")


def test_allowed_subjects_without_tls_refuse_to_start() -> None:
    settings = ServerSettings(tls=TLSSettings(allowed_subjects=("/CN=core",)))
    with pytest.raises(ConfigError, match="allowed_subjects"), running_server(ScriptedBackend(), settings):
        pass


def test_unreadable_tls_files_are_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    settings = ServerSettings(tls=TLSSettings(missing, missing, missing))
    with pytest.raises(ConfigError, match=r"missing\.pem"), running_server(ScriptedBackend(), settings):
        pass


def test_escaped_commas_stay_inside_a_value() -> None:
    assert normalise(r"CN=core,O=Example\, Inc.") == r"/O=Example\, Inc./CN=core"


def test_no_allowed_subjects_admits_anyone() -> None:
    assert ClientSubjects().admits({})
    assert not ClientSubjects(["/CN=core"]).admits({})


def test_a_server_chain_through_an_intermediate_ca_is_trusted_by_its_root(
    ca: Authority, core: Identity, tmp_path: Path
) -> None:
    # The core trusts the root only: the server must send the intermediate along with its own.
    intermediate = ca.intermediate("ckos issuing CA")
    leaf = intermediate.issue("backend", server=True)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(leaf.certificate.read_bytes() + intermediate.certificate.read_bytes())
    settings = ServerSettings(tls=TLSSettings(chain, leaf.key, ca.certificate))
    with running_server(ScriptedBackend(), settings) as address:
        call(address, ca.certificate, core)


def test_the_core_and_the_backend_may_have_different_cas(
    core: Identity, ca: Authority, tmp_path: Path
) -> None:
    # A grid host certificate for the core, a site CA for the backend: each side trusts the other's.
    site = authority(tmp_path, "site CA")
    backend = site.issue("backend", server=True)
    settings = ServerSettings(tls=TLSSettings(backend.certificate, backend.key, ca.certificate))
    with running_server(ScriptedBackend(), settings) as address:
        call(address, site.certificate, core)
        with pytest.raises(grpc.RpcError) as raised:
            call(address, site.certificate, site.issue("core.example.org", server=False))
        assert raised.value.code() is grpc.StatusCode.UNAVAILABLE


def test_the_core_refuses_a_backend_whose_certificate_names_another_host(
    ca: Authority, core: Identity, tmp_path: Path
) -> None:
    # What the core checks on its side: the endpoint it dials must be in the certificate's SANs.
    other = authority(tmp_path, "other CA")
    wrong_host = other.issue("backend", server=True, addresses=["192.0.2.7"])
    settings = ServerSettings(tls=TLSSettings(wrong_host.certificate, wrong_host.key, ca.certificate))
    with running_server(ScriptedBackend(), settings) as address, pytest.raises(grpc.RpcError) as raised:
        call(address, other.certificate, core)
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("broken", ["certificate", "key", "client_ca", "mismatched key"])
def test_unusable_tls_files_are_a_clear_config_error(
    ca: Authority, server_identity: Identity, core: Identity, tmp_path: Path, broken: str
) -> None:
    files = {
        "certificate": server_identity.certificate,
        "key": server_identity.key,
        "client_ca": ca.certificate,
    }
    if broken == "mismatched key":
        files["key"] = core.key
    else:
        garbage = tmp_path / f"{broken}.pem"
        garbage.write_text("not PEM at all\n")
        files[broken] = garbage
    settings = ServerSettings(tls=TLSSettings(files["certificate"], files["key"], files["client_ca"]))
    message = "client_ca" if broken == "client_ca" else "not a PEM certificate chain and its private key"
    with pytest.raises(ConfigError, match=message), running_server(ScriptedBackend(), settings):
        pass


def test_an_encrypted_key_is_refused_without_prompting(
    ca: Authority, server_identity: Identity, tmp_path: Path
) -> None:
    encrypted = tmp_path / "encrypted.key"
    key = serialization.load_pem_private_key(server_identity.key.read_bytes(), password=None)
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    settings = ServerSettings(tls=TLSSettings(server_identity.certificate, encrypted, ca.certificate))
    with pytest.raises(ConfigError, match="encrypted"), running_server(ScriptedBackend(), settings):
        pass

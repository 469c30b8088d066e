from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

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

"""The OCI registry client against a real registry (distribution) in each auth mode.

A paging proxy stands in for what distribution 2.8 lacks (tag pages, redirects to object
storage); httpx.MockTransport only for what no honest registry does (paging loops, endless
redirects).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from loguru import logger

from ckos.adapters.sources.oci_manifest import DOCKER_MANIFEST, OCI_MANIFEST
from ckos.adapters.sources.oci_registry import OciRegistry
from ckos.domain.errors import CkosError, SourceInvalid, SourceUnavailable, TransferMismatch
from ckos.domain.ports import Readable
from support.certificates import authority
from support.oci_push import (
    EMPTY_CONFIG,
    EMPTY_CONFIG_DIGEST,
    ORAS_ARTIFACT_TYPE,
    QEMU_DISK,
    Pushed,
    egi_manifest_annotations,
    egi_ubuntu_annotations,
    push_artifact,
    push_docker_image,
    push_raw_manifest,
)
from support.registry import PASSWORD, Mode, Registry, running_registry
from support.registry_proxy import RegistryProxy

REPO = "egi_vm_images/ubuntu"
DISK = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit: several network pieces
LONG, SHORT = "24.04-2025-09-04-4d7122d6", "24.04"
MODES: list[Mode] = ["anonymous", "htpasswd", "token"]


@pytest.fixture(params=MODES)
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    with running_registry(tmp_path / "registry", mode=request.param) as running:
        yield running


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[Registry]:
    with running_registry(tmp_path / "registry", mode="token") as running:
        yield running


@pytest.fixture
def basic_registry(tmp_path: Path) -> Iterator[Registry]:
    with running_registry(tmp_path / "registry", mode="htpasswd") as running:
        yield running


def push(registry: Registry, repository: str = REPO, tags: tuple[str, ...] = (LONG, SHORT)) -> Pushed:
    return push_artifact(
        registry.url,
        repository,
        DISK,
        tags=list(tags),
        layer_annotations=egi_ubuntu_annotations("24.04", "2025-09-04-4d7122d6"),
        manifest_annotations=egi_manifest_annotations(),
        auth=registry.credentials,
    )


def client(registry: Registry, url: str | None = None, **options: object) -> OciRegistry:
    credentials = registry.credentials
    return OciRegistry(
        url or registry.url,
        username=credentials.username if credentials else "",
        password=credentials.password if credentials else "",
        **options,  # type: ignore[arg-type]
    )


def read_all(blob: Readable, size: int = 65536) -> bytes:
    parts = []
    while piece := blob.read(size):
        parts.append(piece)
    return b"".join(parts)


# --- tags -----------------------------------------------------------------------------------------


def test_tags_of_a_repository(registry: Registry) -> None:
    push(registry)
    with client(registry) as oci:
        assert sorted(oci.tags(REPO)) == [SHORT, LONG]


@pytest.mark.parametrize("absolute", [False, True])
def test_tags_follow_the_next_links_page_by_page(registry: Registry, absolute: bool) -> None:
    tags = ("1", "2", "3", "4", "5")
    push(registry, tags=tags)
    with (
        RegistryProxy(registry, absolute_links=absolute) as proxy,
        client(registry, proxy.url, tags_page_size=2) as oci,
    ):
        assert oci.tags(REPO) == list(tags)
        assert len(proxy.tag_pages) == 3
        assert proxy.tag_pages[0].endswith("?n=2")
        assert "last=4" in proxy.tag_pages[2]


def test_a_paging_loop_is_invalid() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"name": REPO, "tags": ["a"]}, headers={"Link": f'<{request.url.path}>; rel="next"'}
        )

    with (
        OciRegistry("https://registry.test", transport=httpx.MockTransport(handler)) as oci,
        pytest.raises(SourceInvalid, match="loops back"),
    ):
        oci.tags(REPO)


def test_paging_is_bounded() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        link = f'</v2/{REPO}/tags/list?page={page + 1}>; rel="next"'
        return httpx.Response(200, json={"name": REPO, "tags": [str(page)]}, headers={"Link": link})

    with (
        OciRegistry("https://registry.test", max_tag_pages=5, transport=httpx.MockTransport(handler)) as oci,
        pytest.raises(SourceInvalid, match="more than 5 pages"),
    ):
        oci.tags(REPO)


def test_a_next_page_on_another_host_is_refused() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        link = f'<https://elsewhere.test/v2/{REPO}/tags/list?last=a>; rel="next"'
        return httpx.Response(200, json={"name": REPO, "tags": ["a"]}, headers={"Link": link})

    with (
        OciRegistry("https://registry.test", transport=httpx.MockTransport(handler)) as oci,
        pytest.raises(SourceInvalid, match="another host"),
    ):
        oci.tags(REPO)
    assert [r.url.host for r in seen] == ["registry.test"]


# --- manifests ------------------------------------------------------------------------------------


def test_manifest_digest_of_a_tag_is_the_pushed_one(registry: Registry) -> None:
    pushed = push(registry)
    with client(registry) as oci:
        assert oci.manifest_digest(REPO, SHORT) == pushed.manifest_digest
        assert oci.manifest_digest(REPO, LONG) == pushed.manifest_digest


def test_manifest_digest_without_the_header_hashes_the_manifest(registry: Registry) -> None:
    pushed = push(registry)
    methods: list[str] = []

    class NoDigestHeader(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            methods.append(request.method)
            response = super().handle_request(request)
            response.headers.pop("Docker-Content-Digest", None)
            return response

    with client(registry, transport=NoDigestHeader()) as oci:
        assert oci.manifest_digest(REPO, SHORT) == pushed.manifest_digest
    assert methods[-2:] == ["HEAD", "GET"]


def test_a_moved_tag_resolves_to_the_new_build(registry: Registry) -> None:
    old = push(registry)
    new = push_artifact(
        registry.url, REPO, b"rebuilt", tags=["24.04-2025-10-01-abcdef12"], auth=registry.credentials
    )
    with client(registry) as oci:
        assert oci.manifest_digest(REPO, SHORT) == old.manifest_digest
        registry.move_tag(REPO, SHORT, new.manifest_digest)
        assert oci.manifest_digest(REPO, SHORT) == new.manifest_digest
        registry.delete_tag(REPO, LONG)
        assert sorted(oci.tags(REPO)) == [SHORT, "24.04-2025-10-01-abcdef12"]
        with pytest.raises(SourceUnavailable, match="not found"):
            oci.manifest_digest(REPO, LONG)
        assert oci.manifest(REPO, old.manifest_digest).digest == old.manifest_digest  # still there by digest


def test_oci_artifact_manifest_is_verified_and_parsed(registry: Registry) -> None:
    pushed = push(registry)
    with client(registry) as oci:
        manifest = oci.manifest(REPO, pushed.manifest_digest)
    assert manifest.digest == pushed.manifest_digest
    assert manifest.media_type == OCI_MANIFEST
    assert manifest.artifact_type == ORAS_ARTIFACT_TYPE
    assert (manifest.config.media_type, manifest.config.digest, manifest.config.size) == (
        EMPTY_CONFIG,
        EMPTY_CONFIG_DIGEST,
        2,
    )
    [layer] = manifest.layers
    assert (layer.media_type, layer.digest, layer.size) == (QEMU_DISK, pushed.layer_digest, len(DISK))
    assert dict(layer.annotations) == egi_ubuntu_annotations("24.04", "2025-09-04-4d7122d6")
    assert dict(manifest.annotations) == egi_manifest_annotations()


def test_docker_v2_manifest_is_verified_and_parsed(registry: Registry) -> None:
    pushed = push_docker_image(
        registry.url, "library/tool", b"layer bytes", tags=["1.0"], auth=registry.credentials
    )
    with client(registry) as oci:
        digest = oci.manifest_digest("library/tool", "1.0")
        manifest = oci.manifest("library/tool", digest)
    assert digest == pushed.manifest_digest
    assert manifest.media_type == DOCKER_MANIFEST
    assert manifest.artifact_type is None
    assert [(layer.digest, layer.size) for layer in manifest.layers] == [(pushed.layer_digest, 11)]
    assert manifest.config.digest == pushed.config_digest


def test_a_manifest_whose_bytes_do_not_match_its_digest_is_invalid(registry: Registry) -> None:
    pushed = push(registry)
    registry.corrupt_blob(pushed.manifest_digest)  # the registry stores manifests as blobs
    with client(registry) as oci, pytest.raises(SourceInvalid, match="do not match the digest") as error:
        oci.manifest(REPO, pushed.manifest_digest)
    assert f"registry {registry.host}, {REPO}@{pushed.manifest_digest}: reading the manifest" in str(
        error.value
    )


def test_an_oversized_manifest_is_invalid(registry: Registry) -> None:
    pushed = push_artifact(
        registry.url,
        REPO,
        DISK,
        tags=["big"],
        layer_annotations={"padding": "x" * 20_000},
        auth=registry.credentials,
    )
    with client(registry, max_manifest_bytes=8192) as oci:
        with pytest.raises(SourceInvalid, match="more than the 8192 allowed"):
            oci.manifest(REPO, pushed.manifest_digest)
        assert oci.manifest_digest(REPO, "big") == pushed.manifest_digest  # HEAD reads no body


def test_a_manifest_read_without_length_stops_at_the_bound() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        chunks = (b"x" * 1000 for _ in range(1000))
        return httpx.Response(200, headers={"Content-Type": OCI_MANIFEST}, content=chunks)

    digest = "sha256:" + "0" * 64
    with (
        OciRegistry(
            "https://registry.test", max_manifest_bytes=4096, transport=httpx.MockTransport(handler)
        ) as oci,
        pytest.raises(SourceInvalid, match="larger than the 4096 bytes"),
    ):
        oci.manifest(REPO, digest)


def test_an_index_is_not_an_image_manifest(registry: Registry) -> None:
    index = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    digest = push_raw_manifest(
        registry.url,
        REPO,
        "multi",
        index,
        media_type="application/vnd.oci.image.index.v1+json",
        auth=registry.credentials,
    )

    def accept_index(request: httpx.Request) -> None:
        request.headers["Accept"] += ", application/vnd.oci.image.index.v1+json"

    with client(registry) as oci:
        oci._client.event_hooks["request"].append(accept_index)
        with pytest.raises(SourceInvalid, match="not an image manifest"):
            oci.manifest(REPO, digest)


# --- blobs ----------------------------------------------------------------------------------------


def test_blob_is_streamed_and_verified(registry: Registry) -> None:
    pushed = push(registry)
    with client(registry) as oci:
        layer = oci.manifest(REPO, pushed.manifest_digest).layers[0]
        with oci.open_blob(REPO, layer.digest, layer.size) as blob:
            first = blob.read(1000)
            assert len(first) == 1000
            assert first + read_all(blob, 100_000) == DISK
            assert blob.read() == b""


@pytest.mark.parametrize("how", ["flip", "append", "truncate"])
def test_a_corrupted_blob_is_a_mismatch_and_never_ends_cleanly(registry: Registry, how: str) -> None:
    pushed = push(registry)
    registry.corrupt_blob(pushed.layer_digest, how)  # type: ignore[arg-type]
    received = bytearray()
    with (  # noqa: PT012 - the whole read is what must fail
        client(registry) as oci,
        pytest.raises(TransferMismatch) as error,
        oci.open_blob(REPO, pushed.layer_digest, pushed.layer_size) as blob,
    ):
        while piece := blob.read(65536):
            received += piece
        pytest.fail("the end of a corrupted blob was returned as a clean end of stream")
    assert f"registry {registry.host}, {REPO}@{pushed.layer_digest}: reading the blob" in str(error.value)
    assert len(received) <= pushed.layer_size


@pytest.mark.parametrize("delta", [-1, 1])
def test_a_blob_of_another_size_than_announced_is_a_mismatch(registry: Registry, delta: int) -> None:
    pushed = push(registry)
    with (
        client(registry) as oci,
        pytest.raises(TransferMismatch, match="announced"),
        oci.open_blob(REPO, pushed.layer_digest, pushed.layer_size + delta) as blob,
    ):
        read_all(blob)


def test_more_bytes_than_announced_fail_at_once_without_a_length() -> None:
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        def chunks() -> Iterator[bytes]:
            for n in range(100):
                sent.append(n)
                yield b"y" * 1000

        return httpx.Response(200, content=chunks())

    with (
        OciRegistry("https://registry.test", transport=httpx.MockTransport(handler)) as oci,
        pytest.raises(TransferMismatch, match="more bytes than the 1500"),
        oci.open_blob(REPO, "sha256:" + "1" * 64, 1500) as blob,
    ):
        read_all(blob, 500)
    assert len(sent) < 100


def test_a_blob_redirected_to_another_origin_goes_without_our_authorization(registry: Registry) -> None:
    pushed = push(registry)
    with RegistryProxy(registry, redirect_blobs=True) as proxy, client(registry, proxy.url) as oci:
        oci.manifest_digest(REPO, SHORT)  # earn a token or Basic first, so the blob request carries one
        with oci.open_blob(REPO, pushed.layer_digest, pushed.layer_size) as blob:
            assert read_all(blob) == DISK
    assert proxy.mirror_requests == [(f"/mirror/{pushed.layer_digest}", "")]


def test_endless_redirects_are_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": f"{request.url}x"})

    with (
        OciRegistry("https://registry.test", max_redirects=3, transport=httpx.MockTransport(handler)) as oci,
        pytest.raises(SourceUnavailable, match="reading the blob"),
        oci.open_blob(REPO, "sha256:" + "1" * 64, 1),
    ):
        pytest.fail("an endless redirect opened")


# --- unavailability -------------------------------------------------------------------------------


def test_unknown_repository_tag_and_digest_are_unavailable_and_named(registry: Registry) -> None:
    pushed = push(registry)
    missing = "sha256:" + "2" * 64
    with client(registry) as oci:
        with pytest.raises(
            SourceUnavailable, match=r"egi_vm_images/nothing: listing the tags: not found .*NAME_UNKNOWN"
        ):
            oci.tags("egi_vm_images/nothing")
        with pytest.raises(
            SourceUnavailable, match=rf"{registry.host}, {REPO}:22.04: resolving the tag: not found"
        ):
            oci.manifest_digest(REPO, "22.04")
        with pytest.raises(SourceUnavailable, match="MANIFEST_UNKNOWN"):
            oci.manifest(REPO, missing)
        with pytest.raises(SourceUnavailable, match=rf"{REPO}@{missing}: reading the blob: not found"):
            oci.open_blob(REPO, missing, 1).__enter__()
        assert oci.manifest(REPO, pushed.manifest_digest).digest == pushed.manifest_digest


def test_bad_names_never_reach_a_url(registry: Registry) -> None:
    with client(registry) as oci:
        with pytest.raises(SourceInvalid, match="not a valid repository"):
            oci.tags("../../v2/_catalog")
        with pytest.raises(SourceInvalid, match="not a valid tag"):
            oci.manifest_digest(REPO, "../latest")
        with pytest.raises(SourceInvalid, match="not a sha256 or sha512 digest"):
            oci.manifest(REPO, "sha256:ABC")


def test_a_stopped_registry_is_unavailable_until_it_is_back(registry: Registry) -> None:
    pushed = push(registry)
    with client(registry, connect_timeout=2.0) as oci:
        oci.manifest_digest(REPO, SHORT)
        registry.stop()
        with pytest.raises(
            SourceUnavailable, match=rf"registry {registry.host}, {REPO}:{SHORT}: resolving the tag"
        ):
            oci.manifest_digest(REPO, SHORT)
        registry.start()
        assert oci.manifest_digest(REPO, SHORT) == pushed.manifest_digest


def test_a_registry_that_does_not_answer_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with OciRegistry(f"http://127.0.0.1:{port}", read_timeout=0.3) as oci:
            started = time.monotonic()
            with pytest.raises(SourceUnavailable, match="listing the tags"):
                oci.tags(REPO)
            assert time.monotonic() - started < 5


def test_server_errors_are_unavailable() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(503, text="maintenance"))
    with (
        OciRegistry("https://registry.test", transport=transport) as oci,
        pytest.raises(
            SourceUnavailable,
            match=r"registry\.test, egi_vm_images/ubuntu:1: resolving the tag: the registry answered HTTP 503",  # noqa: E501
        ),
    ):
        oci.manifest_digest(REPO, "1")


def test_an_https_registry_is_trusted_through_the_ca_bundle(tmp_path: Path) -> None:
    ca = authority(tmp_path / "ca")
    with running_registry(
        tmp_path / "tls", mode="htpasswd", tls=ca.issue("registry", server=True)
    ) as registry:
        pushed = push(registry)
        with client(registry, ca_bundle=ca.certificate) as oci:
            assert oci.manifest_digest(REPO, SHORT) == pushed.manifest_digest
        with client(registry) as oci, pytest.raises(SourceUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            oci.manifest_digest(REPO, SHORT)


def test_configuration_mistakes_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must not hold credentials") as error:
        OciRegistry("https://user:hunter2@registry.test")
    assert "hunter2" not in str(error.value)
    with pytest.raises(ValueError, match="http"):
        OciRegistry("ftp://registry.test")
    with pytest.raises(FileNotFoundError):
        OciRegistry("https://registry.test", ca_bundle=tmp_path / "missing.pem")
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(OSError):  # ssl.SSLError
        OciRegistry("https://registry.test", ca_bundle=tmp_path / "bad.pem")


# --- authentication -------------------------------------------------------------------------------


def test_basic_with_a_wrong_password_is_refused_clearly(basic_registry: Registry) -> None:
    push(basic_registry)
    with (
        OciRegistry(basic_registry.url, username="ckos-puller", password="wrong-pw-123") as oci,
        pytest.raises(SourceUnavailable, match="the registry refused our credentials") as error,
    ):
        oci.tags(REPO)
    assert "wrong-pw-123" not in str(error.value)


def test_basic_without_credentials_says_what_to_set(basic_registry: Registry) -> None:
    with (
        OciRegistry(basic_registry.url) as oci,
        pytest.raises(SourceUnavailable, match="set username and password_file"),
    ):
        oci.tags(REPO)


def test_basic_credentials_are_sent_up_front_once_asked_for(basic_registry: Registry) -> None:
    push(basic_registry)
    statuses: list[int] = []
    hook = {"response": [lambda response: statuses.append(response.status_code)]}
    with client(basic_registry) as oci:
        oci._client.event_hooks = hook
        oci.tags(REPO)
        oci.manifest_digest(REPO, SHORT)
        oci.manifest_digest(REPO, LONG)
    assert statuses == [401, 200, 200, 200]


def test_bearer_tokens_are_cached_per_scope(token_registry: Registry) -> None:
    push(token_registry)
    push(token_registry, "egi_vm_images/alma", ("9",))
    issuer = token_registry.issuer
    assert issuer is not None
    before = issuer.count()
    with client(token_registry) as oci:
        for _ in range(3):
            digest = oci.manifest_digest(REPO, SHORT)
            oci.manifest(REPO, digest)
            oci.tags("egi_vm_images/alma")
    assert issuer.count() - before == 2
    assert issuer.count("repository:egi_vm_images/ubuntu:pull") == 1
    assert issuer.count("repository:egi_vm_images/alma:pull") == 1


def test_an_expired_token_is_refreshed_on_401(token_registry: Registry) -> None:
    push(token_registry)
    issuer = token_registry.issuer
    assert issuer is not None
    issuer.lifetime = -57.0  # the registry allows 60 s of leeway: the token works for 2 to 3 s
    with client(token_registry) as oci:
        assert oci.tags(REPO)
        issuer.lifetime = 300.0
        time.sleep(3.2)
        assert oci.tags(REPO)
    assert issuer.count("repository:egi_vm_images/ubuntu:pull") == 2


def test_a_token_refused_even_fresh_fails_after_one_new_dance(token_registry: Registry) -> None:
    push(token_registry)
    issuer = token_registry.issuer
    assert issuer is not None
    issuer.lifetime = -120.0  # expired on arrival
    with client(token_registry) as oci:
        with pytest.raises(SourceUnavailable, match="refused our credentials"):
            oci.tags(REPO)
        assert issuer.count("repository:egi_vm_images/ubuntu:pull") == 1
        with pytest.raises(SourceUnavailable, match="refused our credentials"):
            oci.tags(REPO)  # the cached token is dropped and one more is asked for
        assert issuer.count("repository:egi_vm_images/ubuntu:pull") == 2


def test_token_service_refusing_the_password_is_clear(token_registry: Registry) -> None:
    refused = r"token service 127\.0\.0\.1 refused our credentials \(HTTP 401\)"
    with (
        OciRegistry(token_registry.url, username="ckos-puller", password="wrong-pw-456") as oci,
        pytest.raises(SourceUnavailable, match=refused),
    ):
        oci.tags(REPO)


def test_credentials_are_not_sent_to_a_plain_http_realm_of_an_https_registry() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        challenge = 'Bearer realm="http://auth.test/token",service="registry"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    transport = httpx.MockTransport(handler)
    with (
        OciRegistry("https://registry.test", username="u", password="p", transport=transport) as oci,
        pytest.raises(SourceInvalid, match=r"auth\.test is not https: credentials withheld"),
    ):
        oci.tags(REPO)
    assert [r.url.host for r in seen] == ["registry.test"]


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_either_token_field_is_read(token_registry: Registry, field: str) -> None:
    push(token_registry)
    assert token_registry.issuer is not None
    token_registry.issuer.token_field = field
    with client(token_registry) as oci:
        assert sorted(oci.tags(REPO)) == [SHORT, LONG]


def test_anonymous_pull_through_the_token_service(tmp_path: Path) -> None:
    with running_registry(tmp_path / "public", mode="token", anonymous_pull=True) as registry:
        pushed = push(registry)
        with OciRegistry(registry.url) as oci:
            assert oci.manifest_digest(REPO, SHORT) == pushed.manifest_digest
        assert registry.issuer is not None
        assert registry.issuer.requests[-1].account == ""


def test_anonymous_without_anonymous_pull_is_refused(token_registry: Registry) -> None:
    push(token_registry)
    with (
        OciRegistry(token_registry.url) as oci,
        pytest.raises(SourceUnavailable, match="refused anonymous access"),
    ):
        oci.tags(REPO)


@pytest.mark.parametrize("mode", ["htpasswd", "token"])
def test_no_secret_in_any_message_or_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: Mode
) -> None:
    caplog.set_level(logging.DEBUG)
    logged: list[str] = []
    sink = logger.add(logged.append, level="DEBUG", format="{message} {extra}")
    messages: list[str] = []
    try:
        with running_registry(tmp_path / mode, mode=mode) as registry:
            pushed = push(registry)
            with client(registry) as oci, RegistryProxy(registry, redirect_blobs=True) as proxy:
                digest = oci.manifest_digest(REPO, SHORT)
                oci.manifest(REPO, digest)
                registry.corrupt_blob(pushed.layer_digest)
                with client(registry, proxy.url) as redirected:
                    for reader in (oci, redirected):
                        try:
                            with reader.open_blob(REPO, pushed.layer_digest, pushed.layer_size) as blob:
                                read_all(blob)
                        except CkosError as error:
                            messages.append(str(error))
                registry.stop()
                for call in (lambda: oci.tags(REPO), lambda: oci.manifest_digest(REPO, "nope")):
                    try:
                        call()
                    except CkosError as error:
                        messages.append(str(error))
                registry.start()
            with OciRegistry(registry.url, username="ckos-puller", password=PASSWORD + "-typo") as wrong:
                try:
                    wrong.tags(REPO)
                except CkosError as error:
                    messages.append(str(error))
            tokens = list(registry.issuer.tokens) if registry.issuer else []
    finally:
        logger.remove(sink)
    assert len(messages) == 5
    texts = [*messages, *logged, caplog.text]
    assert all(PASSWORD not in text for text in texts)
    assert all(token not in text and token[-40:] not in text for token in tokens for text in texts)
    if mode == "token":
        assert tokens
        assert any("token for scope repository:egi_vm_images/ubuntu:pull" in line for line in logged)

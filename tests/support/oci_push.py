"""Pushing to a test registry exactly as EGI's `oras push --annotation-file` does (sync-sources §4.1).

Deliberately independent of the client under test: its own small auth (Basic, or the Bearer
dance asking for pull and push), monolithic blob uploads (POST then PUT ?digest=), and manifests
PUT as raw bytes, so tests know the exact digest the registry must serve.

    pushed = push_artifact(url, "egi_vm_images/ubuntu", disk, tags=["24.04-2025-09-04-4d7122d6", "24.04"],
                           layer_annotations=egi_ubuntu_annotations("24.04", "2025-09-04-4d7122d6"),
                           auth=registry.credentials)
    pushed.manifest_digest, pushed.layer_digest, pushed.manifest_bytes
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Generator, Mapping, Sequence

import httpx
from attrs import frozen

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG_BYTES = b"{}"
EMPTY_CONFIG_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
ORAS_ARTIFACT_TYPE = "application/vnd.unknown.artifact.v1"
QEMU_DISK = "application/x-qemu-disk"


@frozen
class Credentials:
    username: str
    password: str


@frozen
class Pushed:
    manifest_digest: str
    manifest_bytes: bytes
    media_type: str
    layer_digest: str
    layer_size: int
    config_digest: str


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def egi_ubuntu_annotations(version: str = "22.04", image_tag: str = "2025-09-04-4d7122d6") -> dict[str, str]:
    """The layer annotations of an EGI Ubuntu build (fedcloud-vmi-templates, cloud-info-api's fixture)."""
    return {
        "eu.egi.cloud.description": f"EGI Ubuntu {version} image",
        "eu.egi.cloud.tag": image_tag,
        "org.opencontainers.image.title": f"Ubuntu.{version}-{image_tag}.qcow2",
        "org.openstack.glance.architecture": "x86_64",
        "org.openstack.glance.container_format": "bare",
        "org.openstack.glance.disk_format": "qcow2",
        "org.openstack.glance.os_admin_user": "ubuntu",
        "org.openstack.glance.os_distro": "ubuntu",
        "org.openstack.glance.os_type": "linux",
        "org.openstack.glance.os_version": version,
    }


def egi_manifest_annotations(created: str = "2025-09-04T10:11:12Z") -> dict[str, str]:
    """What upload.sh's `$manifest` block and oras's default add to the manifest."""
    return {
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.revision": "4d7122d6c0ffee0000000000000000000000beef",
        "org.opencontainers.image.source": "https://github.com/EGI-Federation/fedcloud-vmi-templates",
    }


def push_artifact(
    registry_url: str,
    repository: str,
    disk_bytes: bytes,
    *,
    tags: Sequence[str],
    layer_annotations: Mapping[str, str] | None = None,
    manifest_annotations: Mapping[str, str] | None = None,
    layer_media_type: str = QEMU_DISK,
    auth: Credentials | None = None,
) -> Pushed:
    """One oras-style artifact: the disk as the only layer, the empty config, every tag."""
    with _client(registry_url, repository, auth) as client:
        upload_blob(client, repository, EMPTY_CONFIG_BYTES)
        layer_digest = upload_blob(client, repository, disk_bytes)
        layer: dict[str, object] = {
            "mediaType": layer_media_type,
            "digest": layer_digest,
            "size": len(disk_bytes),
        }
        if layer_annotations:
            layer["annotations"] = dict(layer_annotations)
        manifest: dict[str, object] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ORAS_ARTIFACT_TYPE,
            "config": {"mediaType": EMPTY_CONFIG, "digest": EMPTY_CONFIG_DIGEST, "size": 2, "data": "e30="},
            "layers": [layer],
        }
        if manifest_annotations:
            manifest["annotations"] = dict(manifest_annotations)
        body = json.dumps(manifest, indent=None, separators=(",", ":")).encode()
        for tag in tags:
            put_manifest(client, repository, tag, body, OCI_MANIFEST)
        return Pushed(digest_of(body), body, OCI_MANIFEST, layer_digest, len(disk_bytes), EMPTY_CONFIG_DIGEST)


def push_docker_image(
    registry_url: str,
    repository: str,
    layer_bytes: bytes,
    *,
    tags: Sequence[str],
    auth: Credentials | None = None,
) -> Pushed:
    """A Docker image manifest v2 schema 2 with one layer (older tools push these)."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    )
    with _client(registry_url, repository, auth) as client:
        config_digest = upload_blob(client, repository, config.encode())
        layer_digest = upload_blob(client, repository, layer_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": layer_digest,
                    "size": len(layer_bytes),
                }
            ],
        }
        body = json.dumps(manifest, indent=3).encode()
        for tag in tags:
            put_manifest(client, repository, tag, body, DOCKER_MANIFEST)
        return Pushed(digest_of(body), body, DOCKER_MANIFEST, layer_digest, len(layer_bytes), config_digest)


def push_raw_manifest(
    registry_url: str,
    repository: str,
    tag: str,
    body: bytes,
    *,
    media_type: str = OCI_MANIFEST,
    blobs: Sequence[bytes] = (),
    auth: Credentials | None = None,
) -> str:
    """Any manifest bytes (after uploading `blobs` it refers to); returns its digest."""
    with _client(registry_url, repository, auth) as client:
        for blob in blobs:
            upload_blob(client, repository, blob)
        put_manifest(client, repository, tag, body, media_type)
    return digest_of(body)


def move_tag(
    registry_url: str, repository: str, tag: str, manifest_digest: str, *, auth: Credentials | None = None
) -> None:
    with _client(registry_url, repository, auth) as client:
        response = client.get(
            f"/v2/{repository}/manifests/{manifest_digest}",
            headers={"Accept": f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"},
        )
        response.raise_for_status()
        put_manifest(client, repository, tag, response.content, response.headers["Content-Type"])


def upload_blob(client: httpx.Client, repository: str, data: bytes) -> str:
    digest = digest_of(data)
    if client.head(f"/v2/{repository}/blobs/{digest}").status_code == 200:
        return digest
    started = client.post(f"/v2/{repository}/blobs/uploads/")
    _check(started, 202)
    location = httpx.URL(started.headers["Location"])
    target = client.base_url.join(location) if location.is_relative_url else location
    done = client.put(
        target.copy_merge_params({"digest": digest}),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    _check(done, 201)
    return digest


def put_manifest(client: httpx.Client, repository: str, reference: str, body: bytes, media_type: str) -> None:
    response = client.put(
        f"/v2/{repository}/manifests/{reference}", content=body, headers={"Content-Type": media_type}
    )
    _check(response, 201)


def _check(response: httpx.Response, expected: int) -> None:
    if response.status_code != expected:
        raise RuntimeError(
            f"{response.request.method} {response.url.path}: {response.status_code} {response.text}"
        )


def _client(registry_url: str, repository: str, credentials: Credentials | None) -> httpx.Client:
    # verify=False: the pushes go to the tests' own loopback registry, https or not.
    auth = _PushAuth(repository, credentials)
    return httpx.Client(base_url=registry_url, auth=auth, timeout=30.0, verify=False)


class _PushAuth(httpx.Auth):
    """Basic or Bearer (pull and push on the repository), chosen by the registry's challenge."""

    def __init__(self, repository: str, credentials: Credentials | None) -> None:
        self._scope = f"repository:{repository}:pull,push"
        self._credentials = credentials
        self._header: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._header:
            request.headers["Authorization"] = self._header
        response = yield request
        if response.status_code != 401:
            return
        challenge = response.headers.get("WWW-Authenticate", "")
        basic = httpx.BasicAuth(*self._pair()) if self._credentials else None
        if challenge.lower().startswith("basic") and basic is not None:
            self._header = "Basic " + base64.b64encode(":".join(self._pair()).encode()).decode()
        elif challenge.lower().startswith("bearer"):
            params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
            answer = httpx.get(
                params["realm"], params={"service": params["service"], "scope": self._scope}, auth=basic
            )
            answer.raise_for_status()
            self._header = f"Bearer {answer.json()['token']}"
        else:
            return
        request.headers["Authorization"] = self._header
        yield request

    def _pair(self) -> tuple[str, str]:
        assert self._credentials is not None
        return self._credentials.username, self._credentials.password

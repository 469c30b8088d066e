"""OCI image manifests (and Docker's schema 2, their twin) as frozen values, parsed strictly.

EGI's artifacts are oras pushes: an image-spec 1.1 manifest, the empty config, one layer holding
the qcow2 and all the Glance hints as layer annotations (sync-sources §4.1). The parser checks the
shape every such manifest has and leaves the choice of the disk layer to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from attrs import field, frozen

from ckos.adapters.sources.oci_references import check_digest
from ckos.adapters.sources.oci_responses import json_document
from ckos.domain.errors import SourceInvalid

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)


def _readonly(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@frozen
class OciDescriptor:
    """A pointer to a blob: what it is, its digest and its exact size."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(factory=dict, converter=_readonly, hash=False)


@frozen
class OciManifest:
    digest: str  # of the exact bytes the registry served, verified
    media_type: str
    config: OciDescriptor
    layers: tuple[OciDescriptor, ...]
    annotations: Mapping[str, str] = field(factory=dict, converter=_readonly, hash=False)
    artifact_type: str | None = None


def parse_manifest(body: bytes, *, digest: str, media_type: str) -> OciManifest:
    """The manifest in `body`, served as `media_type`; SourceInvalid when it is not a valid one."""
    document = json_document(body, "manifest")
    if not isinstance(document, dict):
        raise SourceInvalid("the manifest is not a JSON object")
    if document.get("schemaVersion") != 2:
        raise SourceInvalid(f"manifest schemaVersion is {document.get('schemaVersion')!r}, not 2")
    declared = document.get("mediaType", media_type)
    if declared != media_type:
        raise SourceInvalid(f"the manifest says it is {declared!r} but was served as {media_type!r}")
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise SourceInvalid("the manifest has no list of layers")
    artifact_type = document.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise SourceInvalid("the manifest's artifactType is not a string")
    return OciManifest(
        digest=digest,
        media_type=media_type,
        config=_descriptor(document.get("config"), "config"),
        layers=tuple(_descriptor(layer, f"layer {n}") for n, layer in enumerate(layers)),
        annotations=_annotations(document.get("annotations"), "manifest"),
        artifact_type=artifact_type,
    )


def _descriptor(value: Any, what: str) -> OciDescriptor:
    if not isinstance(value, dict):
        raise SourceInvalid(f"the manifest's {what} is not a descriptor object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise SourceInvalid(f"the manifest's {what} has no mediaType")
    if not isinstance(digest, str):
        raise SourceInvalid(f"the manifest's {what} has no digest")
    try:
        check_digest(digest)
    except SourceInvalid as error:
        raise SourceInvalid(f"the manifest's {what}: {error}") from None
    # bool is an int to Python, never a size to JSON.
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise SourceInvalid(f"the manifest's {what} has no valid size")
    return OciDescriptor(media_type, digest, size, _annotations(value.get("annotations"), what))


def _annotations(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SourceInvalid(f"the {what} annotations are not a map of strings")
    return value

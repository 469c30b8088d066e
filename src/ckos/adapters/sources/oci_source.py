"""An OCI registry as a sync source: every matching tag of some repositories, as appliances.

Artifacts are mapped as EGI's downstream tools read them (sync-sources.md §4.4 and §7.3): the
identifier `<host>/<repo>:<tag>` stays the same across rebuilds, so a rebuild is an update
(create, verify, then retire the old image), never add-and-prune. A manifest is read by digest
(a tag moving meanwhile cannot mix two builds) and kept in the work directory, so that a run over
an unchanged registry costs one tag listing per repository and one HEAD per tag.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from attrs import frozen

from ckos.adapters.sources.oci_manifest import OciDescriptor, OciManifest
from ckos.adapters.sources.oci_manifests import ManifestCache
from ckos.adapters.sources.oci_registry import OciRegistry
from ckos.domain.errors import CkosError, SourceInvalid, SourceUnavailable
from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.domain.ports import ApplianceSource, ImageData, Readable
from ckos.domain.snapshot import Offer, Snapshot, SourceIncomplete

log = logging.getLogger(__name__)

DISK_LAYER_TYPES = frozenset({"application/x-qemu-disk", "application/vnd.oci.image.layer.v1.tar"})
EGI_TAG = "eu.egi.cloud.tag"
IMAGE_REF = "eu.egi.cloud.image_ref"
_GLANCE = "org.openstack.glance."
_FORMATS = {
    "qcow2": ImageFormat.QCOW2,
    "raw": ImageFormat.RAW,
    "vmdk": ImageFormat.VMDK,
    "vdi": ImageFormat.VDI,
}


@frozen
class OciSourceConfig:
    name: str
    host: str  # as identifiers name it: registry.egi.eu (with :port when not the default)
    repositories: tuple[str, ...]
    tags: str  # searched in each tag; empty: every tag
    vo: str
    max_image_size: int


class OciSource(ApplianceSource, ImageData):
    """Reads the registry into a snapshot, and opens the layers it offered (`oci://` sources)."""

    def __init__(self, config: OciSourceConfig, registry: OciRegistry, manifests: ManifestCache) -> None:
        self._config = config
        self._registry = registry
        self._manifests = manifests
        self._pattern = re.compile(config.tags)
        self._blobs: dict[str, tuple[str, str, int]] = {}  # location -> repository, digest, size

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def image_list_identifier(self) -> str:
        return f"oci:{self._config.name}"

    def read(self) -> Snapshot:
        offers: list[Offer] = []
        problems: list[str] = []
        for repository in self._config.repositories:
            try:
                tags = self._registry.tags(repository)
            except CkosError as error:
                problems.append(str(error))
                continue
            for tag in sorted(tag for tag in tags if self._pattern.search(tag)):
                try:
                    offers.append(self._offer(repository, tag))
                except CkosError as error:
                    problems.append(f"tag {repository}:{tag}: {error}")
        snapshot = Snapshot(
            source=self.name,
            image_list_identifier=self.image_list_identifier,
            vo=self._config.vo,
            offers=tuple(offers),
        )
        if problems:
            raise SourceIncomplete.of(self.name, problems, snapshot)
        log.info(
            "source %s: %d appliances in %d repositories",
            self.name,
            len(offers),
            len(self._config.repositories),
        )
        return snapshot

    def applied(self) -> None:
        """Nothing to remember: a registry's tags are read afresh each run."""

    def size_of(self, source: ImageSource) -> int | None:
        offered = self._blobs.get(source.location)
        return offered[2] if offered else None

    @contextmanager
    def open(self, source: ImageSource) -> Iterator[Readable]:
        """The layer's bytes, verified against its digest and size while they stream."""
        try:
            repository, digest, size = self._blobs[source.location]
        except KeyError:
            raise SourceUnavailable(f"source {self.name}: no layer {source.location} was offered") from None
        with self._registry.open_blob(repository, digest, size) as blob:
            yield blob

    def _offer(self, repository: str, tag: str) -> Offer:
        digest = self._registry.manifest_digest(repository, tag)
        manifest = self._manifests.get(digest) or self._manifests.keep(
            self._registry.manifest(repository, digest)
        )
        label = f"registry {self._config.host}, {repository}:{tag}"
        layer = _disk_layer(manifest, label)
        if layer.size > self._config.max_image_size:
            raise SourceInvalid(f"{label}: the disk layer has {layer.size} bytes, more than max_image_size")
        if EGI_TAG not in layer.annotations:
            raise SourceInvalid(
                f"{label}: the disk layer has no {EGI_TAG} annotation (pushed without metadata?)"
            )
        location = f"oci://{self.name}/{repository}@{layer.digest}"
        self._blobs[location] = (repository, layer.digest, layer.size)
        appliance = self._appliance(repository, tag, manifest, layer, label)
        return Offer(appliance=appliance, source=ImageSource(mode=TransferMode.REMOTE, location=location))

    def _appliance(
        self, repository: str, tag: str, manifest: OciManifest, layer: OciDescriptor, label: str
    ) -> Appliance:
        annotations = {**manifest.annotations, **layer.annotations}
        attributes = {**layer.annotations, IMAGE_REF: f"{repository}:{tag}"}
        disk_format = annotations.get(_GLANCE + "disk_format", "qcow2").lower()
        if disk_format not in _FORMATS:
            raise SourceInvalid(f"{label}: disk format {disk_format[:40]!r} is not one ckos can store")
        reference = f"{self._config.host}/{repository}"
        title = (
            annotations.get("eu.egi.cloud.description") or annotations.get("eu.egi.cloud.image.title") or ""
        )
        distro, version = (
            annotations.get(_GLANCE + "os_distro", ""),
            annotations.get(_GLANCE + "os_version", ""),
        )
        fields: dict[str, str] = {
            "identifier": f"{reference}:{tag}",
            "image_list_identifier": self.image_list_identifier,
            "vo": self._config.vo,
            "mpuri": f"{reference}:{tag}-{manifest.digest}",
            "title": title or f"{repository}:{tag}",
            "description": annotations.get("eu.egi.cloud.description", ""),
            "version": annotations[EGI_TAG],
            "architecture": annotations.get(_GLANCE + "architecture", ""),
            "operating_system": " ".join(part for part in (distro, version) if part),
        }
        image = ImageFacts(
            uri=f"{reference}@{manifest.digest}",
            checksum=layer.digest,
            size=layer.size,
            format=_FORMATS[disk_format],
            digest=_sha512_json({"manifest": manifest.digest, "layer": layer.digest, "size": layer.size}),
        )
        return Appliance(
            **fields,  # type: ignore[arg-type]  # every one of them a text field
            digest=_sha512_json({**fields, "annotations": attributes}),
            image=image,
            attributes=tuple(attributes.items()),
        )


def _disk_layer(manifest: OciManifest, label: str) -> OciDescriptor:
    disks = [layer for layer in manifest.layers if layer.media_type in DISK_LAYER_TYPES]
    if len(disks) != 1:
        raise SourceInvalid(f"{label}: {len(disks)} disk layers, not exactly one")
    return disks[0]


def _sha512_json(value: object) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha512(canonical.encode()).hexdigest()

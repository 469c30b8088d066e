"""Manifests already read, kept by digest in the work directory.

A manifest's digest names its content, so a kept one never goes stale: a run over an unchanged
registry resolves each tag with one HEAD and reads no manifest again. A kept file that does not
read back as the manifest of its name is ignored (and read from the registry once more).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from attrs import asdict

from ckos.adapters.sources.oci_manifest import OciDescriptor, OciManifest
from ckos.adapters.sources.oci_references import check_digest
from ckos.domain.errors import SourceInvalid

log = logging.getLogger(__name__)


class ManifestCache:
    def __init__(self, folder: Path | None) -> None:
        self._folder = folder  # None: keep nothing (a dry run writes nothing)

    def get(self, digest: str) -> OciManifest | None:
        path = self._path(digest)
        if path is None or not path.is_file():
            return None
        try:
            manifest = _manifest(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError, RecursionError):
            log.warning("kept manifest %s is unreadable: read again from the registry", path.name)
            return None
        return manifest if manifest.digest == digest else None

    def keep(self, manifest: OciManifest) -> OciManifest:
        path = self._path(manifest.digest)
        if path is None:
            return manifest
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".part") as stream:
                json.dump(_document(manifest), stream)
            os.replace(stream.name, path)
        except OSError as error:  # the cache only saves requests: never a reason to fail
            log.warning("could not keep manifest %s: %s", manifest.digest, error)
        return manifest

    def _path(self, digest: str) -> Path | None:
        if self._folder is None:
            return None
        try:
            check_digest(digest)
        except SourceInvalid:
            return None
        return self._folder / digest.replace(":", "-")


def _document(manifest: OciManifest) -> dict[str, Any]:
    return asdict(
        manifest, value_serializer=lambda _, __, value: dict(value) if hasattr(value, "keys") else value
    )


def _descriptor(value: dict[str, Any]) -> OciDescriptor:
    return OciDescriptor(
        media_type=value["media_type"],
        digest=value["digest"],
        size=int(value["size"]),
        annotations=value["annotations"],
    )


def _manifest(value: dict[str, Any]) -> OciManifest:
    return OciManifest(
        digest=value["digest"],
        media_type=value["media_type"],
        config=_descriptor(value["config"]),
        layers=tuple(_descriptor(layer) for layer in value["layers"]),
        annotations=value["annotations"],
        artifact_type=value["artifact_type"],
    )

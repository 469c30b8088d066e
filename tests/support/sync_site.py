"""`cloudkeeper-os sync` against a real OCI registry and the devcloud's real Glance.

    site = SyncSite(...)            # see tests/sync/conftest.py
    site.push("egi_vm_images/ubuntu", b"disk", "24.04", "2025-09-04-4d7122d6")
    result = site.sync()            # exit status, the JSON summary, what was printed
    site.live()                     # {identifier: Glance record} of our live images

The command runs in this process (`ckos.entrypoints.cli.main`), from a configuration derived
from the devcloud's, with its own Glance tag (every image carrying it is deleted afterwards).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from attrs import define, field

from ckos.adapters.glance.record import ImageRecord
from ckos.entrypoints import cli
from support.catalog_state import GlanceState, one_live_each, ours
from support.ckos_config import derived_config
from support.devcloud import DevCloud
from support.oci_push import Pushed, egi_manifest_annotations, egi_ubuntu_annotations, push_artifact
from support.registry import Registry

VO = "fedcloud.egi.eu"
SOURCE = "egi-vm-images"
UBUNTU = "egi_vm_images/ubuntu"
BUILD = "2025-09-04-4d7122d6"
REBUILD = "2025-10-02-9f00aa11"


def disk(seed: str, size: int = 300_000) -> bytes:
    """Bytes standing for a disk image: `size` of them, different for each seed."""
    block = hashlib.sha512(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


@define
class SyncResult:
    status: int
    summary: dict[str, Any]  # the --json output ({} when not asked for or not printed)
    out: str
    err: str

    @property
    def source(self) -> dict[str, Any]:
        [only] = self.summary["sources"]
        return dict(only)


@define
class SyncSite:
    cloud: DevCloud
    registry: Registry
    folder: Path
    tag: str
    capsys: pytest.CaptureFixture[str]
    state: GlanceState
    oci: dict[str, Any] = field(factory=dict)  # the [[sync.oci]] table
    sync_options: dict[str, Any] = field(factory=dict)  # [sync]
    config_changes: dict[str, dict[str, Any]] = field(factory=dict)  # other sections

    @property
    def work_dir(self) -> Path:
        return self.folder / "work"

    @property
    def metrics_file(self) -> Path:
        return self.folder / "metrics" / "sync.prom"

    def push(
        self,
        repository: str,
        disk: bytes,
        version: str,
        build: str,
        *,
        annotations: Mapping[str, str] | None = None,
    ) -> Pushed:
        """A build as fedcloud-vmi-templates pushes it: tags `<version>-<build>` and `<version>`."""
        layer = egi_ubuntu_annotations(version, build) if annotations is None else dict(annotations)
        return push_artifact(
            self.registry.url,
            repository,
            disk,
            tags=[f"{version}-{build}", version],
            layer_annotations=layer,
            manifest_annotations=egi_manifest_annotations(),
            auth=self.registry.credentials,
        )

    def config(self) -> Path:
        oci = {
            "name": SOURCE,
            "registry": self.registry.url,
            "repositories": ["egi_vm_images/ubuntu"],
            "tags": "^[^-]*$",
            "vo": VO,
            **self.oci,
        }
        sync = {
            "work_dir": str(self.work_dir),
            "lock_file": str(self.folder / "sync.lock"),
            "metrics_file": str(self.metrics_file),
            **self.sync_options,
        }
        path = derived_config(
            self.cloud.config_file,
            self.folder,
            mapping=json.loads(self.cloud.mapping_file.read_text()),
            changes={"glance": {"tag": self.tag}, **self.config_changes},
        )
        path.write_text(path.read_text() + _sync_tables(sync, oci))
        return path

    def sync(self, *options: str, json_output: bool = True) -> SyncResult:
        self.capsys.readouterr()
        arguments = ["sync", "--config", str(self.config()), *(["--json"] if json_output else []), *options]
        status = cli.main(arguments)
        captured = self.capsys.readouterr()
        summary = json.loads(captured.out) if json_output and captured.out.strip() else {}
        return SyncResult(status=status, summary=summary, out=captured.out, err=captured.err)

    def records(self) -> list[ImageRecord]:
        return self.state.records()

    def ours(self, status: str) -> dict[str, list[ImageRecord]]:
        return ours(self.records(), self.tag, status)

    def live(self) -> dict[str, ImageRecord]:
        """The one live image of each appliance (fails if an appliance has several)."""
        return one_live_each(self.records(), self.tag)

    def unfinished(self) -> list[ImageRecord]:
        """Images of ours that are not live nor retired, or not active in Glance: orphans."""
        return [
            record
            for record in self.records()
            if record.properties.get("APPLIANCE_STATUS") not in ("ACTIVE", "EOL") or record.status != "active"
        ]

    def leftovers(self) -> list[Path]:
        """Files in the work directory other than the kept manifests."""
        if not self.work_dir.exists():
            return []
        return [
            path for path in self.work_dir.rglob("*") if path.is_file() and "oci-manifests" not in path.parts
        ]

    def identifier(self, repository: str, tag: str) -> str:
        return f"{self.registry.host}/{repository}:{tag}"


def _sync_tables(sync: Mapping[str, Any], oci: Mapping[str, Any]) -> str:
    def lines(options: Mapping[str, Any]) -> str:
        return "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())

    return f"\n[sync]\n{lines(sync)}\n[[sync.oci]]\n{lines(oci)}"


def one_source(result: SyncResult, names: Sequence[str] = (SOURCE,)) -> dict[str, Any]:
    assert [source["name"] for source in result.summary["sources"]] == list(names)
    return result.source

"""`cloudkeeper-os sync` (a real process) reading hostile sources on loopback
(tests/reliability/hostile_registry.py): a 1 GB tag list, manifest or HEPiX list generated on the
fly, endless redirects, a qcow2 with a backing file or a huge virtual size.
Each run ends with exit status 1 and a clear problem (no traceback), nothing is written to the
session's real Glance, no file is left in the work directory, and the process's peak memory stays
bounded (its peak RSS, read by GNU time)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import glanceclient
import pytest

from reliability.hostile_registry import REPOSITORY, HostileRegistry, endless
from support.catalog_state import GlanceState
from support.ckos_config import derived_config
from support.devcloud import DevCloud
from support.disk_images import DiskImages

pytestmark = pytest.mark.openstack
CLI = Path(sys.executable).with_name("cloudkeeper-os")
GB = 1_000_000_000
PEAK_BOUND_KIB = 300 * 1024


@pytest.fixture
def registry() -> Iterator[HostileRegistry]:
    with HostileRegistry() as running:
        yield running


def sync(cloud: DevCloud, folder: Path, tag: str, source: str) -> tuple[int, dict[str, Any], str, int]:
    """One `cloudkeeper-os sync --json` as a process: (exit status, summary, stderr, peak RSS KiB)."""
    config = derived_config(
        cloud.config_file,
        folder,
        mapping=json.loads(cloud.mapping_file.read_text()),
        changes={"glance": {"tag": tag}},
    )
    options = {"work_dir": str(folder / "work"), "lock_file": str(folder / "sync.lock"), "formats": ["raw"]}
    lines = "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    config.write_text(config.read_text() + f"\n[sync]\n{lines}\n{source}")
    out_file, err_file, peak_file = folder / "sync.out", folder / "sync.err", folder / "sync.peak"
    # GNU time reads the command's own peak: a child forked from this (big) test process would
    # carry the parent's high-water mark in ru_maxrss until it execs.
    command = [
        "/usr/bin/time",
        "-f",
        "%M",
        "-o",
        str(peak_file),
        str(CLI),
        "sync",
        "--config",
        str(config),
        "--json",
    ]
    with out_file.open("wb") as out, err_file.open("wb") as err:
        done = subprocess.run(
            command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=600, check=False
        )
    peak = int(peak_file.read_text().split()[-1])
    text = out_file.read_text()
    summary = json.loads(text) if text.strip() else {}
    return done.returncode, summary, err_file.read_text(errors="replace"), peak


def oci(registry: HostileRegistry) -> str:
    return (
        f'[[sync.oci]]\nname = "hostile"\nregistry = "{registry.url}"\nrepositories = ["{REPOSITORY}"]\n'
        'vo = "fedcloud.egi.eu"\n'
    )


def hepix(registry: HostileRegistry, folder: Path) -> str:
    (folder / "ca").mkdir(exist_ok=True)
    return (
        f'[[sync.hepix]]\nname = "hostile"\nurl = "{registry.url}/list"\nca_dir = "{folder / "ca"}"\n'
        'endorser_dn = "/DC=org/DC=example/CN=Endorser"\ncrl = "off"\n'
    )


def huge_tag_list(registry: HostileRegistry, folder: Path) -> str:
    registry.tag_list = endless(b'{"tags":["', GB)
    return oci(registry)


def huge_manifest(registry: HostileRegistry, folder: Path) -> str:
    registry.manifest_stream = endless(b'{"schemaVersion":2,"a":"', GB)
    return oci(registry)


def huge_list(registry: HostileRegistry, folder: Path) -> str:
    registry.list_body = endless(b"MIME-Version: 1.0\n", GB)
    return hepix(registry, folder)


def blob_loop(registry: HostileRegistry, folder: Path) -> str:
    registry.redirect_loops.add("/blob")
    return oci(registry)


def list_loop(registry: HostileRegistry, folder: Path) -> str:
    registry.redirect_loops.add("/list")
    return hepix(registry, folder)


def backing_file(registry: HostileRegistry, folder: Path) -> str:
    registry.blob = DiskImages(folder / "disks").with_backing_file().read_bytes()
    return oci(registry)


def huge_virtual_size(registry: HostileRegistry, folder: Path) -> str:
    registry.blob = DiskImages(folder / "disks").empty("huge.qcow2", "1P").read_bytes()
    return oci(registry)


DEEP = 200_000


def nested_tag_list(registry: HostileRegistry, folder: Path) -> str:
    registry.tag_list = b'{"tags":' * DEEP + b"}" * DEEP
    return oci(registry)


def nested_manifest(registry: HostileRegistry, folder: Path) -> str:
    registry.manifest = b"[" * DEEP + b"]" * DEEP  # served with its true digest
    return oci(registry)


CASES: dict[str, tuple[Callable[[HostileRegistry, Path], str], str]] = {
    "1 GB tag list": (huge_tag_list, "larger than"),
    "1 GB manifest": (huge_manifest, "larger than"),
    "1 GB HEPiX list": (huge_list, "larger than"),
    "blob redirected endlessly": (blob_loop, "redirect"),
    "HEPiX list redirected endlessly": (list_loop, "redirect"),
    "qcow2 with a backing file": (backing_file, "backing"),
    "qcow2 of 1 PiB virtual size": (huge_virtual_size, "virtual size"),
    "deeply nested tag list": (nested_tag_list, "nested too deeply"),
    "deeply nested manifest": (nested_manifest, "nested too deeply"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_source_fails_the_run_clearly_changes_nothing_and_memory_stays_bounded(
    devcloud: DevCloud, tmp_path: Path, registry: HostileRegistry, case: str
) -> None:
    rig, said = CASES[case]
    source = rig(registry, tmp_path)
    tag = f"ckos-hostile-{uuid.uuid4().hex[:12]}"
    admin = glanceclient.Client("2", session=devcloud.admin_session(), region_name=devcloud.region)
    state = GlanceState(admin.images, owners=[devcloud.project_id("fedcloud.egi.eu")], tag=tag)
    before = state.raw()
    try:
        status, summary, err, peak = sync(devcloud, tmp_path, tag, source)
        print(f"\n{case}: exit {status}, peak RSS {peak} KiB, bytes sent {registry.sent}")
        assert "Traceback" not in err, err[-3000:]
        assert status == 1, err[-3000:]
        [figures] = summary["sources"]
        problems = " ".join(figures["problems"]) + err
        assert said in problems.lower(), problems[-2000:]
        assert state.raw() == before
        work = tmp_path / "work"
        assert (
            [p for p in work.rglob("*") if p.is_file() and "oci-manifests" not in p.parts] == []
            if work.exists()
            else True
        )
        assert peak < PEAK_BOUND_KIB
    finally:
        state.delete_tagged()

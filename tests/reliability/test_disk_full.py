"""`cloudkeeper-os sync` with its work directory on a small tmpfs (8 MiB, mounted by the test,
unmounted afterwards whatever happens) that fills up during a conversion: the run exits 1 saying
so, the old image stays live, no orphan image and no file is left, and once there is room the next
run converges. A real registry and the session's real Glance."""

from __future__ import annotations

import random
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import glanceclient
import pytest

from reliability.outages import check_exactly
from support.catalog_state import GlanceState
from support.devcloud import DevCloud
from support.oci_push import egi_ubuntu_annotations
from support.registry import running_registry
from support.sync_site import VO, SyncSite, one_source

pytestmark = pytest.mark.openstack
UBUNTU = "egi_vm_images/ubuntu"
MIB = 1024 * 1024


@contextmanager
def tmpfs(directory: Path, size: str = "8M") -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        if subprocess.run(["umount", str(directory)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(directory)], check=True)


@pytest.fixture
def site(devcloud: DevCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[SyncSite]:
    tag = f"ckos-diskfull-{uuid.uuid4().hex[:12]}"
    admin = glanceclient.Client("2", session=devcloud.admin_session(), region_name=devcloud.region)
    state = GlanceState(admin.images, owners=[devcloud.project_id(VO)], tag=tag)
    with running_registry(tmp_path / "registry") as registry:
        try:
            yield SyncSite(devcloud, registry, tmp_path, tag, capsys, state)
        finally:
            state.delete_tagged()


def raw_disk(seed: int, size: int) -> bytes:
    """Incompressible bytes: a qcow2 made of them is as large as they are."""
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize(
    ("what", "size"),
    [
        ("the download fills the disk", 12 * MIB),  # the raw layer alone is larger than the tmpfs
        ("the conversion fills the disk", 5 * MIB),  # the layer fits, the qcow2 made of it does not
    ],
)
def test_a_full_work_directory_fails_the_image_and_leaves_nothing_then_the_next_run_converges(
    site: SyncSite, what: str, size: int
) -> None:
    annotations = {**egi_ubuntu_annotations("24.04"), "org.openstack.glance.disk_format": "raw"}
    site.sync_options["formats"] = ["qcow2"]  # the site wants qcow2: every raw layer is converted
    site.push(UBUNTU, raw_disk(1, 64 * 1024), "24.04", "2025-09-04-aaaaaaaa", annotations=annotations)
    assert site.sync().status == 0
    identifier = site.identifier(UBUNTU, "24.04")
    old = site.live()[identifier]
    data = raw_disk(2, size)
    site.push(UBUNTU, data, "24.04", "2025-10-02-bbbbbbbb", annotations=annotations)

    with tmpfs(site.work_dir):
        full = site.sync()
        assert list(site.work_dir.rglob("*.part")) == []
        assert site.leftovers() == []  # read while mounted: the files are on the tmpfs

    assert full.status == 1, full.err
    figures = one_source(full)
    assert (figures["complete"], figures["failed"], figures["updated"]) == (True, 1, 0)
    assert any("No space left on device" in problem for problem in figures["problems"]), figures["problems"]
    assert site.live()[identifier].id == old.id
    assert site.unfinished() == []
    assert len(site.records()) == 1

    again = site.sync()  # the work directory on the ordinary disk again
    assert again.status == 0, again.err
    assert one_source(again)["updated"] == 1
    site.state.data(site.live()[identifier].id)  # Glance's hash of the new image is its bytes' hash
    check_exactly([r for r in site.records() if r.id != old.id], site.tag, {identifier})
    assert [r.id for r in site.ours("EOL")[identifier]] == [old.id]  # retired, kept for running VMs
    steady = site.sync()
    assert (steady.status, one_source(steady)["unchanged"]) == (0, 1)
    assert site.leftovers() == []

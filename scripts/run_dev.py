"""`make run`: the main job of ckos, watched on a local real cloud it sets up itself.

1. a real Keystone + Glance on loopback (scripts/devcloud, state in .devcloud/);
2. a real OCI registry on loopback (Debian's docker-registry) holding two small EGI-style VM
   images (qcow2 made by qemu-img, pushed as fedcloud-vmi-templates pushes them);
3. one real `cloudkeeper-os sync` of that registry into Glance, with progress on a terminal;
4. `cloudkeeper-os status`, which lists what arrived;
5. the daemon, serving for a Cloudkeeper core on 127.0.0.1:50051 until Ctrl-C (then everything
   this started is stopped).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.oci_push import egi_manifest_annotations, egi_ubuntu_annotations, push_artifact  # noqa: E402
from support.registry import running_registry  # noqa: E402

CLI = REPO / ".venv" / "bin" / "cloudkeeper-os"
VOS = {"fedcloud.egi.eu": "fedcloud", "vo.example.eu": "example"}
# The images are named after the registry's host and port: the same port every time, so that a
# second `make run` over the kept cloud finds them unchanged instead of new ones.
REGISTRY_PORT = int(os.environ.get("CKOS_SAMPLE_REGISTRY_PORT", "50052"))
SAMPLES = (("24.04", "2025-09-04-4d7122d6"), ("22.04", "2025-09-04-4d7122d6"))


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def sample_disk(folder: Path, version: str) -> bytes:
    """A small real qcow2 (16 MiB virtual, some data), so that a conversion would work too."""
    raw, qcow2 = folder / f"{version}.raw", folder / f"{version}.qcow2"
    with raw.open("wb") as stream:
        stream.truncate(16 * 1024 * 1024)
        stream.write(f"ckos sample image {version}\n".encode() * 100_000)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2], check=True)
    return qcow2.read_bytes()


def run_config(devcloud: Path, registry_url: str) -> Path:
    """The devcloud's configuration plus a [sync] section reading the sample registry."""
    base = (devcloud / "cloudkeeper-os.toml").read_text()
    oci = {
        "name": "sample-registry",
        "registry": registry_url,
        "repositories": ["egi_vm_images/ubuntu"],
        "tags": "^[^-]*$",
        "vo": "fedcloud.egi.eu",
    }
    sync = {"work_dir": str(devcloud / "sync-work"), "lock_file": str(devcloud / "sync.lock")}
    lines = [base, "", "[sync]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in sync.items()]
    lines += ["", "[[sync.oci]]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in oci.items()]
    path = devcloud / "cloudkeeper-os-run.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    devcloud = Path(os.environ.get("CKOS_DEV_DIR", REPO / ".devcloud")).resolve()
    step("starting a real Keystone and Glance on loopback (scripts/devcloud; the first time installs them)")
    vos = [argument for vo, project in VOS.items() for argument in ("--vo", f"{vo}={project}")]
    subprocess.run([sys.executable, REPO / "scripts" / "devcloud", "up", devcloud, *vos], check=True)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="ckos-run-") as scratch,
            running_registry(Path(scratch) / "registry", port=REGISTRY_PORT) as registry,
        ):
            step(f"a sample OCI registry on {registry.url}: pushing EGI-style Ubuntu images")
            for version, build in SAMPLES:
                disk = sample_disk(Path(scratch), version)
                push_artifact(
                    registry.url,
                    "egi_vm_images/ubuntu",
                    disk,
                    tags=[f"{version}-{build}", version],
                    layer_annotations=egi_ubuntu_annotations(version, build),
                    manifest_annotations=egi_manifest_annotations(),
                )
                print(f"   egi_vm_images/ubuntu:{version} ({len(disk)} bytes of qcow2)")
            config = run_config(devcloud, registry.url)
            step(f"cloudkeeper-os sync --config {config}")
            subprocess.run([CLI, "sync", "--config", config], check=False)
            step(f"cloudkeeper-os status --config {config}")
            subprocess.run([CLI, "status", "--config", config], check=False)
            step("cloudkeeper-os serve: the daemon, for a Cloudkeeper core (Ctrl-C stops it and the cloud)")
            print(
                "   Point a core at it: in /etc/cloudkeeper/cloudkeeper.yml set\n"
                "     backend:\n"
                "       endpoint: 127.0.0.1:50051\n"
                "   and run `cloudkeeper sync` (authentication off: plain text on loopback).\n"
                f"   Admin credentials of the cloud: source {devcloud / 'openrc'} (then: glance image-list)\n"
                f"   Again later: {CLI} sync --config {config}",
                flush=True,
            )
            try:
                served = subprocess.run([CLI, "serve", "--config", config], check=False)
            except KeyboardInterrupt:
                return 0
            return served.returncode
    finally:
        subprocess.run([sys.executable, REPO / "scripts" / "devcloud", "down", devcloud], check=False)


if __name__ == "__main__":
    sys.exit(main())

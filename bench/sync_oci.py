"""`cloudkeeper-os sync` from an OCI registry into Glance, against the shell (`make bench`).

Starts its own devcloud (scripts/devcloud: Keystone + Glance on loopback) and a loopback OCI
registry (Debian's docker-registry, as the tests start it: tests/support/registry.py), pushes
images to it as EGI's pipeline does (oras's layout and annotations), then runs the real
`cloudkeeper-os sync --json` as a subprocess, each run a first sync into an empty project:

1. 6 images of 256 MiB (random bytes, labelled qcow2) at `[sync] parallel = 1` and `= 2`,
   against a shell loop doing the same one image at a time: `curl` of the blob piped into
   `glance image-create`. Target: ckos at parallel = 1 within 1.1x of the shell's time.
2. A steady-state sync of the same images (nothing changed): registry requests and bytes from
   its access log, Glance and Keystone requests through counting proxies. Target: 0 bytes
   downloaded, 0 Glance writes.
3. Peak RSS of the sync process with one 256 MiB image and with one 2 GiB image. Target: flat.
4. Conversion to raw (`[sync] formats = ["raw"]`) of real qcow2 images (qemu-img made, random
   data), against `curl` + `qemu-img convert` + `glance image-create --file` by hand.

ckos and the shell alternate (the order rotates each round) so that both see the same load on a
shared machine; the report takes medians. Everything (devcloud, registry, data) lives in one
temporary folder, removed at the end whatever happens. `--quick`: small images, a smoke run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the devcloud driver, the registry, the pushes

import glanceclient  # noqa: E402
from attrs import define, frozen  # noqa: E402

from counting_proxy import CountingProxy  # noqa: E402
from support.devcloud import DevCloud, running_devcloud  # noqa: E402
from support.registry import Registry, running_registry  # noqa: E402
from sync_oci_report import ShellRun, report  # noqa: E402
from sync_oci_site import (  # noqa: E402
    MIB,
    Pushed,
    SyncRun,
    file_blocks,
    log_position,
    push_image,
    random_blocks,
    random_file,
    registry_traffic,
    run_sync,
    sync_config,
)
from transfer import BIN, children_cpu, glance_cpu, openrc_env, scratch_parent  # noqa: E402

VO = "bench.example.eu"
PROJECT = "bench"
TAG = "ckos-bench-sync"
DATA_REPO = "egi_vm_images/bench-data"
QCOW2_REPO = "egi_vm_images/bench-qcow2"
SMALL_REPO = "egi_vm_images/bench-rss-small"
LARGE_REPO = "egi_vm_images/bench-rss-large"

SHELL = """set -euo pipefail
for digest in "$@"; do
  curl -sSf "$BENCH_REGISTRY/v2/$BENCH_REPOSITORY/blobs/$digest" \\
    | glance image-create --name "shell-$digest" --disk-format qcow2 --container-format bare >/dev/null
done
"""
BY_HAND = """set -euo pipefail
for digest in "$@"; do
  curl -sSf -o "$BENCH_WORK/image.qcow2" "$BENCH_REGISTRY/v2/$BENCH_REPOSITORY/blobs/$digest"
  qemu-img convert -f qcow2 -O raw "$BENCH_WORK/image.qcow2" "$BENCH_WORK/image.raw"
  rm "$BENCH_WORK/image.qcow2"
  glance image-create --name "hand-$digest" --disk-format raw --container-format bare \\
    --file "$BENCH_WORK/image.raw" >/dev/null
  rm "$BENCH_WORK/image.raw"
done
"""


@frozen
class Expected:
    """An image Glance must end up holding: its size and SHA-512 (os_hash_value)."""

    size: int
    sha512: str


@define
class Bench:
    cloud: DevCloud
    registry: Registry
    images: Any  # glanceclient's images manager, admin session
    folder: Path  # the scratch folder: runs, work files
    shell_env: dict[str, str]
    runs: int = 0

    @property
    def project_id(self) -> str:
        return self.cloud.project_id(VO)

    def glance_cpu(self) -> float:
        return glance_cpu(self.cloud)

    def run_folder(self, name: str) -> Path:
        self.runs += 1
        return self.folder / "runs" / f"{self.runs:02d}-{name}"

    def config(self, folder: Path, repositories: list[str], **sync: Any) -> Path:
        openstack = sync.pop("openstack", None)
        return sync_config(
            folder,
            self.cloud.config_file,
            self.cloud.mapping_file,
            registry=self.registry,
            repositories=repositories,
            vo=VO,
            tag=TAG,
            sync=sync,
            openstack=openstack,
        )

    def sync(self, config: Path) -> SyncRun:
        return run_sync(BIN / "cloudkeeper-os", config, config.parent / "sync.log", self.glance_cpu)

    def project_images(self) -> list[dict[str, Any]]:
        found = {}
        for hidden in (False, True):
            for image in self.images.list(filters={"owner": self.project_id, "os_hidden": hidden}):
                found[image["id"]] = dict(image)
        return list(found.values())

    def check(self, expected: Sequence[Expected], disk_format: str) -> None:
        """The project holds exactly the expected images, active, in `disk_format`."""
        images = self.project_images()
        got = sorted((i["status"], i["disk_format"], i["size"], i["os_hash_value"]) for i in images)
        want = sorted(("active", disk_format, e.size, e.sha512) for e in expected)
        if got != want:
            raise SystemExit(f"Glance does not hold the expected images:\n got {got}\nwant {want}")

    def purge(self) -> None:
        for image in self.project_images():
            self.images.delete(image["id"])


def ckos_first_sync(
    bench: Bench, name: str, repositories: list[str], expected: Sequence[Expected], **sync: Any
) -> SyncRun:
    """A first sync into the empty project, checked, then everything removed again."""
    folder = bench.run_folder(name)
    run = bench.sync(bench.config(folder, repositories, **sync))
    checked(run, folder, added=len(expected))
    bench.check(expected, "raw" if sync.get("formats") == ["raw"] else "qcow2")
    bench.purge()
    shutil.rmtree(folder)
    return run


def checked(run: SyncRun, folder: Path, *, added: int) -> None:
    figures = run.summary.get("sources", [{}])[0]
    if run.status != 0 or (figures.get("added"), figures.get("failed")) != (added, 0):
        log = (folder / "sync.log").read_text()[-4000:]
        raise SystemExit(f"sync failed (status {run.status}): {run.summary}\nits log:\n{log}")


def shell(
    bench: Bench,
    script: str,
    *,
    repository: str,
    images: Sequence[Pushed],
    expected: Sequence[Expected],
    disk_format: str,
) -> ShellRun:
    """The shell loop over the images' blobs, timed as a whole; checked, then removed."""
    work = bench.run_folder("shell")
    work.mkdir(parents=True)
    env = {
        **bench.shell_env,
        "BENCH_REGISTRY": bench.registry.url,
        "BENCH_REPOSITORY": repository,
        "BENCH_WORK": str(work),
    }
    cpu_before, glance_before = children_cpu(), bench.glance_cpu()
    started = time.monotonic()
    subprocess.run(["bash", "-c", script, "shell", *(i.layer_digest for i in images)], env=env, check=True)
    seconds = time.monotonic() - started
    run = ShellRun(seconds, children_cpu() - cpu_before, bench.glance_cpu() - glance_before)
    bench.check(expected, disk_format)
    bench.purge()
    shutil.rmtree(work)
    return run


def rounds_of(work: Mapping[str, Callable[[], Any]], rounds: int) -> dict[str, list[Any]]:
    """Each contender once per round, the order rotating by one each round."""
    names = list(work)
    runs: dict[str, list[Any]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(work[name]())
            print(f"  round {round_ + 1} {name}: {runs[name][-1].seconds:.2f} s", file=sys.stderr)
    return runs


def compare(bench: Bench, images: Sequence[Pushed], rounds: int) -> dict[str, list[Any]]:
    expected = [Expected(i.size, i.sha512) for i in images]
    work: dict[str, Callable[[], Any]] = {
        "p1": partial(ckos_first_sync, bench, "p1", [DATA_REPO], expected, parallel=1),
        "p2": partial(ckos_first_sync, bench, "p2", [DATA_REPO], expected, parallel=2),
        "shell": partial(
            shell, bench, SHELL, repository=DATA_REPO, images=images, expected=expected, disk_format="qcow2"
        ),
    }
    return rounds_of(work, rounds)


def steady(bench: Bench, images: Sequence[Pushed]) -> dict[str, Any]:
    """A counted first sync (parallel = 2), then the same sync again: the steady state."""
    expected = [Expected(i.size, i.sha512) for i in images]
    with (
        CountingProxy(bench.cloud.glance_url) as glance,
        CountingProxy(_server(bench.cloud.keystone_url)) as ks,
    ):
        folder = bench.run_folder("counted")
        openstack = {"glance_endpoint": glance.url, "auth_url": f"{ks.url}/v3"}
        config = bench.config(folder, [DATA_REPO], parallel=2, openstack=openstack)
        result: dict[str, Any] = {}
        for name in ("first", "steady"):
            glance.reset()
            ks.reset()
            since = log_position(bench.registry)
            before = _state(bench)
            run = bench.sync(config)
            checked(run, folder, added=len(images) if name == "first" else 0)
            bench.check(expected, "qcow2")
            result[name] = {
                "run": run,
                "registry": registry_traffic(bench.registry, since),
                "glance": glance.snapshot(),
                "glance_writes": glance.writes(),
                "glance_upload_bytes": glance.request_bytes,
                "keystone": ks.snapshot(),
                "glance_unchanged": _state(bench) == before,
            }
            print(f"  {name}: {run.seconds:.2f} s, {glance.total()} Glance requests", file=sys.stderr)
    bench.purge()
    shutil.rmtree(folder)
    return result


def _server(url: str) -> str:
    return url.removesuffix("/").removesuffix("/v3")


def _state(bench: Bench) -> list[tuple[str, str, str]]:
    return sorted((i["id"], i["updated_at"], i["status"]) for i in bench.project_images())


def memory(bench: Bench, small: Pushed, large: Pushed, rounds: int) -> dict[str, list[Any]]:
    work: dict[str, Callable[[], Any]] = {
        key: partial(
            ckos_first_sync, bench, f"rss-{key}", [repo], [Expected(image.size, image.sha512)], parallel=1
        )
        for key, repo, image in (("small", SMALL_REPO, small), ("large", LARGE_REPO, large))
    }
    return rounds_of(work, rounds)


def convert(
    bench: Bench, images: Sequence[Pushed], raws: Sequence[Expected], rounds: int
) -> dict[str, list[Any]]:
    work: dict[str, Callable[[], Any]] = {
        "p1": partial(ckos_first_sync, bench, "raw-p1", [QCOW2_REPO], raws, parallel=1, formats=["raw"]),
        "p2": partial(ckos_first_sync, bench, "raw-p2", [QCOW2_REPO], raws, parallel=2, formats=["raw"]),
        "hand": partial(
            shell, bench, BY_HAND, repository=QCOW2_REPO, images=images, expected=raws, disk_format="raw"
        ),
    }
    return rounds_of(work, rounds)


def push_data(
    registry: Registry, folder: Path, sizes: Mapping[str, int], count: int, qcow2_count: int
) -> dict[str, Any]:
    """Random images to the registry (streamed), and qcow2 ones made by qemu-img from random raws."""
    pushed: dict[str, Any] = {
        "data": [
            push_image(registry, DATA_REPO, f"{n}.0", random_blocks(sizes["image"])) for n in range(count)
        ],
        "small": push_image(registry, SMALL_REPO, "1.0", random_blocks(sizes["small"])),
        "large": push_image(registry, LARGE_REPO, "1.0", random_blocks(sizes["large"])),
        "qcow2": [],
        "raws": [],
    }
    for n in range(qcow2_count):
        raw, qcow2 = folder / "disk.raw", folder / "disk.qcow2"
        pushed["raws"].append(Expected(sizes["image"], random_file(raw, sizes["image"])))
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)], check=True)
        pushed["qcow2"].append(push_image(registry, QCOW2_REPO, f"{n}.0", file_blocks(qcow2)))
        raw.unlink()
        qcow2.unlink()
    return pushed


def shell_env(cloud: DevCloud) -> dict[str, str]:
    """The devcloud's openrc with ckos's service user, scoped to the VO's project (as ckos is)."""
    env = openrc_env(cloud.openrc)
    for name in ("OS_PROJECT_NAME", "OS_PROJECT_DOMAIN_NAME"):
        env.pop(name, None)
    env.update(
        OS_USERNAME=cloud.ckos.username,
        OS_PASSWORD=cloud.ckos.password,
        OS_USER_DOMAIN_NAME=cloud.ckos.user_domain_name,
        OS_PROJECT_ID=cloud.project_id(VO),
    )
    return env


def source_of_ckos() -> tuple[str, str]:
    """The commit of this checkout (+ "with changes under src/" when dirty) and where the sync
    processes import ckos from (PYTHONPATH=<worktree>/src measures another checkout)."""

    def output(*command: str) -> str:
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO).stdout.strip()

    commit = output("git", "rev-parse", "--short", "HEAD")
    if output("git", "status", "--porcelain", "--", "src"):
        commit += " with uncommitted changes under src/"
    return commit, output(str(BIN / "python"), "-c", "import ckos; print(ckos.__path__[0])")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small images, 2 rounds: a smoke run")
    parser.add_argument("--size", type=int, help="MiB per image (default 256; --quick 8)")
    parser.add_argument("--images", type=int, default=6, help="images in the comparison (default 6)")
    parser.add_argument("--large", type=int, help="MiB, the larger memory run (default 2048; --quick 64)")
    parser.add_argument("--qcow2-images", type=int, default=3, help="qcow2 images to convert (default 3)")
    parser.add_argument("--rounds", type=int, help="runs of each contender (default 5; --quick 2)")
    parser.add_argument("--scratch", type=Path, help="folder for the data (default: a temporary one on disk)")
    args = parser.parse_args(argv)
    size = args.size or (8 if args.quick else 256)
    sizes = {
        "image": size * MIB,
        "small": size * MIB,
        "large": (args.large or (64 if args.quick else 2048)) * MIB,
    }
    rounds = args.rounds or (2 if args.quick else 5)
    command = " ".join(["python", *sys.argv]) if argv is None else "main()"
    started = time.monotonic()
    parent = args.scratch or scratch_parent()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    results: dict[str, Any] = {"scratch": parent, "load": load, "rounds": rounds, "sizes": sizes}
    results["commit"], results["ckos"] = source_of_ckos()
    with tempfile.TemporaryDirectory(prefix="ckos-bench-sync-", dir=parent) as scratch:
        folder = Path(scratch)
        with (
            running_devcloud(folder / "devcloud", vos={VO: PROJECT}) as cloud,
            running_registry(folder / "registry") as registry,
        ):
            total = (args.images + args.qcow2_images + 1) * sizes["image"] + sizes["large"]
            print(f"pushing {total // MIB} MiB of random images to {registry.url}", file=sys.stderr)
            pushed = push_data(registry, folder, sizes, args.images, args.qcow2_images)
            images = glanceclient.Client("2", session=cloud.admin_session(), region_name=cloud.region).images
            bench = Bench(cloud, registry, images, folder, shell_env(cloud))
            print("counted first sync, then steady state", file=sys.stderr)
            results["steady"] = steady(bench, pushed["data"])
            print(f"{args.images} images: ckos parallel 1 and 2 against the shell", file=sys.stderr)
            results["compare"] = compare(bench, pushed["data"], rounds)
            print("peak RSS", file=sys.stderr)
            results["memory"] = memory(bench, pushed["small"], pushed["large"], max(2, rounds // 2))
            print("conversion to raw", file=sys.stderr)
            results["convert"] = convert(bench, pushed["qcow2"], pushed["raws"], rounds)
            results["counts"] = {"images": args.images, "qcow2": args.qcow2_images}
            results["seconds"] = time.monotonic() - started
    text, met = report(results, command)
    print(text)
    print(f"\ntotal {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""`cloudkeeper-os sync` from a signed HEPiX list into Glance, against the core and by hand (`make bench`).

Starts its own devcloud (scripts/devcloud: Keystone + Glance on loopback) and a loopback web
server holding a HEPiX image list signed with the test PKI (tests/support/hepix_lists.py, the
`openssl` command line) and its images (random bytes, hv:format QCOW2). Each timed run is a first
sync of the list into an empty project, checked in Glance, then undone:

1. 6 images of 256 MiB: the real `cloudkeeper-os sync --json` as a subprocess at
   `[sync] parallel = 1` and `= 2`, against
   (a) the core-plus-daemon path: the simulated core 2.0 (tests/support/core.py, with the real
       core's digests as tests/support/hepix_core.py sends them) fetches and verifies the list,
       downloads each image to its spool (verifying size and SHA-512), then offers it as a LOCAL
       file to the real `cloudkeeper-os serve` (a subprocess, fresh for each run); the downloads
       and the AddAppliance calls are timed apart;
   (b) by hand: `curl URL | glance image-create` for each image, one at a time.
2. A steady-state sync of the same list (nothing changed): requests to the list server (the list
   and the images) counted, Glance and Keystone requests through counting proxies. Target: 0 bytes
   downloaded (no image requested), 0 Glance writes.

The contenders alternate (the order rotates each round) so that all see the same load on a shared
machine; the report takes medians. Everything lives in one temporary folder, removed at the end
whatever happens. `--quick`: small images, a smoke run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the devcloud driver, the PKI, the core simulator

import glanceclient  # noqa: E402
from attrs import define  # noqa: E402

from counting_proxy import CountingProxy  # noqa: E402
from support.devcloud import DevCloud, running_devcloud  # noqa: E402
from support.hepix_lists import ENDORSER, ListPki, make_pki  # noqa: E402
from sync_hepix_report import report  # noqa: E402
from sync_hepix_site import (  # noqa: E402
    LIST_PATH,
    CoreRun,
    FileServer,
    ImageFile,
    core_run,
    signed_list,
    sync_config,
)
from sync_oci import PROJECT, VO, Expected, checked, rounds_of, shell_env, source_of_ckos  # noqa: E402
from sync_oci_report import ShellRun  # noqa: E402
from sync_oci_site import MIB, SyncRun, random_file, run_sync  # noqa: E402
from transfer import BIN, children_cpu, glance_cpu, scratch_parent  # noqa: E402
from transfer_daemon import cpu_seconds, running_daemon  # noqa: E402

TAG = "ckos-bench-hepix"
SHELL = """set -euo pipefail
for url in "$@"; do
  curl -sSf "$url" \\
    | glance image-create --name "shell-${url##*/}" --disk-format qcow2 --container-format bare >/dev/null
done
"""


@define
class Bench:
    cloud: DevCloud
    server: FileServer
    lists: ListPki
    images: Any  # glanceclient's images manager, admin session
    folder: Path
    shell_env: dict[str, str]
    data: list[ImageFile]
    runs: int = 0

    @property
    def project_id(self) -> str:
        return self.cloud.project_id(VO)

    @property
    def expected(self) -> list[Expected]:
        return [Expected(image.size, image.sha512) for image in self.data]

    @property
    def urls(self) -> list[str]:
        return [self.server.url(f"/images/{image.name}.qcow2") for image in self.data]

    def glance_cpu(self) -> float:
        return glance_cpu(self.cloud)

    def run_folder(self, name: str) -> Path:
        self.runs += 1
        return self.folder / "runs" / f"{self.runs:02d}-{name}"

    def config(self, folder: Path, **sync: Any) -> Path:
        openstack = sync.pop("openstack", None)
        return sync_config(
            folder,
            self.cloud.config_file,
            self.cloud.mapping_file,
            list_url=self.server.url(LIST_PATH),
            vo=VO,
            ca_dir=self.lists.dirs["igtf"],
            endorser_dn=ENDORSER,
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

    def check(self) -> None:
        """The project holds exactly the list's images, active, qcow2, with their size and SHA-512."""
        images = self.project_images()
        got = sorted((i["status"], i["disk_format"], i["size"], i["os_hash_value"]) for i in images)
        want = sorted(("active", "qcow2", e.size, e.sha512) for e in self.expected)
        if got != want:
            raise SystemExit(f"Glance does not hold the expected images:\n got {got}\nwant {want}")

    def purge(self) -> None:
        for image in self.project_images():
            self.images.delete(image["id"])


def ckos_first_sync(bench: Bench, name: str, **sync: Any) -> SyncRun:
    """A first sync into the empty project, checked, then everything removed again."""
    folder = bench.run_folder(name)
    run = bench.sync(bench.config(folder, **sync))
    checked(run, folder, added=len(bench.data))
    bench.check()
    bench.purge()
    shutil.rmtree(folder)
    return run


def core_and_daemon(bench: Bench) -> CoreRun:
    """The simulated core 2.0 against a fresh `cloudkeeper-os serve` (started untimed), checked."""
    folder = bench.run_folder("core")
    spool = folder / "spool"
    spool.mkdir(parents=True)
    with running_daemon(
        BIN / "cloudkeeper-os", bench.cloud.config_file, folder, images={"local_directories": [str(spool)]}
    ) as daemon:
        run = core_run(
            daemon.target,
            list_url=bench.server.url(LIST_PATH),
            ca_dir=bench.lists.dirs["igtf"],
            spool=spool,
            cpu=partial(cpu_seconds, daemon.pid),
            glance_cpu=bench.glance_cpu,
        )
        log = daemon.log.read_text()[-4000:]
    if run.exit_code or run.failed_calls:
        raise SystemExit(
            f"the core run failed ({run.exit_code}): {run.failed_calls}\nthe daemon's log:\n{log}"
        )
    bench.check()
    bench.purge()
    shutil.rmtree(folder)
    return run


def shell(bench: Bench) -> ShellRun:
    """`curl URL | glance image-create` over the images, timed as a whole; checked, then removed."""
    cpu_before, glance_before = children_cpu(), bench.glance_cpu()
    started = time.monotonic()
    subprocess.run(["bash", "-c", SHELL, "shell", *bench.urls], env=bench.shell_env, check=True)
    seconds = time.monotonic() - started
    run = ShellRun(seconds, children_cpu() - cpu_before, bench.glance_cpu() - glance_before)
    bench.check()
    bench.purge()
    return run


def compare(bench: Bench, rounds: int) -> dict[str, list[Any]]:
    work: dict[str, Callable[[], Any]] = {
        "p1": partial(ckos_first_sync, bench, "p1", parallel=1),
        "p2": partial(ckos_first_sync, bench, "p2", parallel=2),
        "core": partial(core_and_daemon, bench),
        "shell": partial(shell, bench),
    }
    return rounds_of(work, rounds)


def steady(bench: Bench) -> dict[str, Any]:
    """A counted first sync (parallel = 2), then the same sync again: the steady state."""
    with (
        CountingProxy(bench.cloud.glance_url) as glance,
        CountingProxy(bench.cloud.keystone_url.removesuffix("/").removesuffix("/v3")) as ks,
    ):
        folder = bench.run_folder("counted")
        openstack = {"glance_endpoint": glance.url, "auth_url": f"{ks.url}/v3"}
        config = bench.config(folder, parallel=2, openstack=openstack)
        result: dict[str, Any] = {}
        for name in ("first", "steady"):
            glance.reset()
            ks.reset()
            bench.server.reset()
            before = _state(bench)
            run = bench.sync(config)
            checked(run, folder, added=len(bench.data) if name == "first" else 0)
            bench.check()
            seen = bench.server.seen()
            result[name] = {
                "run": run,
                "list_requests": sum(1 for path in seen if path == LIST_PATH),
                "image_requests": sum(1 for path in seen if path.startswith("/images/")),
                "other_requests": sum(
                    1 for path in seen if path != LIST_PATH and not path.startswith("/images/")
                ),
                "glance": glance.snapshot(),
                "glance_writes": glance.writes(),
                "keystone": ks.snapshot(),
                "glance_unchanged": _state(bench) == before,
            }
            print(f"  {name}: {run.seconds:.2f} s, {glance.total()} Glance requests", file=sys.stderr)
    bench.purge()
    shutil.rmtree(folder)
    return result


def _state(bench: Bench) -> list[tuple[str, str, str]]:
    return sorted((i["id"], i["updated_at"], i["status"]) for i in bench.project_images())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small images, 2 rounds: a smoke run")
    parser.add_argument("--size", type=int, help="MiB per image (default 256; --quick 8)")
    parser.add_argument("--images", type=int, default=6, help="images in the list (default 6)")
    parser.add_argument("--rounds", type=int, help="runs of each contender (default 5; --quick 2)")
    parser.add_argument("--scratch", type=Path, help="folder for the data (default: a temporary one on disk)")
    args = parser.parse_args(argv)
    size = (args.size or (8 if args.quick else 256)) * MIB
    rounds = args.rounds or (2 if args.quick else 5)
    command = " ".join(["python", *sys.argv]) if argv is None else "main()"
    started = time.monotonic()
    parent = args.scratch or scratch_parent()
    free = shutil.disk_usage(parent).free
    if free < 3 * args.images * size:
        raise SystemExit(f"{parent}: {free // MIB} MiB free, {3 * args.images * size // MIB} MiB wanted")
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    results: dict[str, Any] = {"scratch": parent, "load": load, "rounds": rounds, "size": size}
    results["commit"], results["ckos"] = source_of_ckos()
    with tempfile.TemporaryDirectory(prefix="ckos-bench-hepix-", dir=parent) as scratch:
        folder = Path(scratch)
        (folder / "data").mkdir()
        print(f"writing {args.images * size // MIB} MiB of random images", file=sys.stderr)
        data = [
            ImageFile(f"bench-{n}", path, size, random_file(path, size))
            for n in range(args.images)
            for path in [folder / "data" / f"bench-{n}.qcow2"]
        ]
        lists = make_pki(folder / "pki")
        with (
            running_devcloud(folder / "devcloud", vos={VO: PROJECT}) as cloud,
            FileServer() as server,
        ):
            for image in data:
                server.files[f"/images/{image.name}.qcow2"] = image.path
            urls = {image.name: server.url(f"/images/{image.name}.qcow2") for image in data}
            server.files[LIST_PATH] = signed_list(lists, VO, data, urls)
            images = glanceclient.Client("2", session=cloud.admin_session(), region_name=cloud.region).images
            bench = Bench(cloud, server, lists, images, folder, shell_env(cloud), data)
            print("counted first sync, then steady state", file=sys.stderr)
            results["steady"] = steady(bench)
            print(
                f"{args.images} images: ckos sync at parallel 1 and 2, core + daemon, by hand",
                file=sys.stderr,
            )
            results["compare"] = compare(bench, rounds)
            results["images"] = args.images
            results["seconds"] = time.monotonic() - started
    text, met = report(results, command)
    print(text)
    print(f"\ntotal {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

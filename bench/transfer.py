"""Image transfer speed and memory of ckos against a real Glance (`make bench`).

Starts its own devcloud (scripts/devcloud) and runs `cloudkeeper-os serve` as a subprocess on the
devcloud's configuration; this process plays the core (AddAppliance through the independent
client) and the operator (python-glanceclient's `glance` command line, admin openrc):

1. LOCAL 1 GiB: AddAppliance of a file on disk vs `glance image-upload --file` of the same file
   into the same Glance (the image created beforehand, untimed). Target: ckos >= 0.9x throughput.
2. REMOTE 1 GiB from a local web server with basic auth: AddAppliance vs the shell pipe
   `curl -u ... URL | glance image-upload ID`. Target: ckos end-to-end time <= 1.1x.
3. The daemon's peak resident memory (VmRSS sampled every 20 ms, and VmHWM) during LOCAL and
   REMOTE transfers of 512 MiB and 2 GiB, a fresh daemon per size. Target: <= 150 MB, flat.

The data is random (incompressible), written to a temporary folder on disk (not tmpfs) that is
removed afterwards, as is every image. ckos's times are whole calls: source opened, image
created, uploaded, verified (SHA-512 and size), checked in Glance, marked live.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the independent client, the devcloud driver, the web server

import glanceclient  # noqa: E402
import grpc  # noqa: E402
from attrs import evolve, frozen  # noqa: E402

from support.devcloud import DevCloud, running_devcloud  # noqa: E402
from support.image_server import ImageServer  # noqa: E402
from support.independent_client import client  # noqa: E402
from transfer_daemon import Daemon, cpu_seconds, running_daemon  # noqa: E402
from transfer_report import MIB, Run, report  # noqa: E402

VO = "bench.example.eu"
BIN = Path(sys.executable).parent
WRITE_BLOCK = 16 * MIB


@frozen
class ImageFile:
    path: Path
    size: int
    sha512: str


@frozen
class Bench:
    cloud: DevCloud
    images: Any  # glanceclient's images manager, admin session
    env: Mapping[str, str]  # the environment of the `glance` command line: the admin openrc
    folder: Path
    server: ImageServer


def scratch_parent() -> Path:
    """Where the data goes: the temporary folder, unless it is a tmpfs (RAM); then next to the repo."""
    default = Path(tempfile.gettempdir())
    mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    best = max((m for m in mounts if default.is_relative_to(m[1])), key=lambda m: len(m[1]))
    return REPO.parent if best[2] == "tmpfs" else default


def random_file(path: Path, size: int) -> ImageFile:
    digest = hashlib.sha512()
    with path.open("wb") as file:
        for start in range(0, size, WRITE_BLOCK):
            block = os.urandom(min(WRITE_BLOCK, size - start))
            digest.update(block)
            file.write(block)
    return ImageFile(path, size, digest.hexdigest())


def openrc_env(openrc: Path) -> dict[str, str]:
    env = dict(os.environ)
    for line in openrc.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def appliance(image: ImageFile, location: str, *, remote: tuple[str, str] | None = None) -> Any:
    pb2 = client().pb2
    identifier = str(uuid.uuid4())
    message = pb2.Appliance(
        identifier=identifier,
        title=f"bench {image.size // MIB} MiB",
        mpuri=f"https://appdb.egi.eu/store/vo/image/{identifier}:1/",
        vo=VO,
        image_list_identifier="bench-list",
        digest="bench",
    )
    username, password = remote or ("", "")
    message.image.CopyFrom(
        pb2.Image(
            mode=pb2.Image.REMOTE if remote else pb2.Image.LOCAL,
            location=location,
            format=pb2.Image.RAW,
            uri=f"https://images.example.org/{image.path.name}",
            checksum=image.sha512,
            size=image.size,
            username=username,
            password=password,
            digest="bench-image",
        )
    )
    return message


def add(bench: Bench, daemon: Daemon, request: Any, image: ImageFile) -> float:
    """One AddAppliance, timed; the resulting image checked in Glance, then deleted."""
    with grpc.insecure_channel(daemon.target) as channel:
        stub = client().stub(channel)
        started = time.monotonic()
        try:
            stub.AddAppliance(request)
        except grpc.RpcError as error:
            tail = "\n".join(daemon.log.read_text().splitlines()[-40:])
            raise SystemExit(
                f"AddAppliance failed: {error.code().name}: {error.details()}\ndaemon log:\n{tail}"
            ) from None
        elapsed = time.monotonic() - started
    (stored,) = list(bench.images.list(filters={"APPLIANCE_ID": request.identifier}))
    check_stored(bench, stored["id"], image)
    bench.images.delete(stored["id"])
    return elapsed


def check_stored(bench: Bench, image_id: str, image: ImageFile) -> None:
    stored = bench.images.get(image_id)
    if (stored["status"], stored["size"], stored["os_hash_value"]) != ("active", image.size, image.sha512):
        raise SystemExit(f"image {image_id} is not the offered file: {dict(stored)}")


def glance_command(bench: Bench, image: ImageFile, command: Callable[[str], list[str]]) -> float:
    """A `glance` command line filling an image created beforehand (untimed), timed."""
    created = bench.images.create(name="bench-cli", disk_format="raw", container_format="bare")
    try:
        started = time.monotonic()
        subprocess.run(command(created["id"]), env=dict(bench.env), check=True, stdout=subprocess.DEVNULL)
        elapsed = time.monotonic() - started
        check_stored(bench, created["id"], image)
    finally:
        bench.images.delete(created["id"])
    return elapsed


def cli_local(bench: Bench, image: ImageFile) -> float:
    return glance_command(
        bench, image, lambda id_: ["glance", "image-upload", "--file", str(image.path), id_]
    )


def cli_pipe(bench: Bench, image: ImageFile, url: str) -> float:
    script = (
        'set -o pipefail; curl -sSf -u "$BENCH_USER:$BENCH_PASSWORD" "$BENCH_URL" | glance image-upload "$1"'
    )
    user, password = credentials(bench)
    env = {**bench.env, "BENCH_URL": url, "BENCH_USER": user, "BENCH_PASSWORD": password}
    return glance_command(evolve(bench, env=env), image, lambda id_: ["bash", "-c", script, "pipe", id_])


def ckos_local(bench: Bench, daemon: Daemon, image: ImageFile) -> float:
    return add(bench, daemon, appliance(image, str(image.path)), image)


def ckos_remote(bench: Bench, daemon: Daemon, image: ImageFile, url: str) -> float:
    return add(bench, daemon, appliance(image, url, remote=credentials(bench)), image)


def served(bench: Bench, image: ImageFile) -> str:
    path = f"/{image.path.name}"
    bench.server.offer(path, image.path)
    return bench.server.url(path)


def credentials(bench: Bench) -> tuple[str, str]:
    return bench.server.username, bench.server.password


def glance_cpu(cloud: DevCloud) -> float:
    master = cloud.pids["glance"]
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sum(cpu_seconds(pid) for pid in (master, *map(int, children)))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(bench: Bench, work: Callable[[], float], client: Callable[[], float]) -> Run:
    client_before, glance_before = client(), glance_cpu(bench.cloud)
    seconds = work()
    return Run(seconds, client() - client_before, glance_cpu(bench.cloud) - glance_before)


def compare(bench: Bench, image: ImageFile, small: ImageFile, rounds: int) -> dict[str, Any]:
    """LOCAL and REMOTE: ckos and the command line, alternately, `rounds` times each."""
    url, small_url = served(bench, image), served(bench, small)
    runs: dict[str, list[Run]] = {key: [] for key in ("local", "cli", "remote", "pipe")}
    with running_daemon(BIN / "cloudkeeper-os", bench.cloud.config_file, bench.folder.parent, images={
        "local_directories": [str(bench.folder)]
    }) as daemon:  # fmt: skip
        # Warm-up (the daemon authenticates), then the fixed cost of a call or a command (1 MiB).
        ckos_local(bench, daemon, small)
        fixed = {
            "local": ckos_local(bench, daemon, small),
            "cli": cli_local(bench, small),
            "remote": ckos_remote(bench, daemon, small, small_url),
            "pipe": cli_pipe(bench, small, small_url),
        }
        daemon_cpu = partial(cpu_seconds, daemon.pid)
        work: dict[str, tuple[Callable[[], float], Callable[[], float]]] = {
            "local": (partial(ckos_local, bench, daemon, image), daemon_cpu),
            "cli": (partial(cli_local, bench, image), children_cpu),
            "remote": (partial(ckos_remote, bench, daemon, image, url), daemon_cpu),
            "pipe": (partial(cli_pipe, bench, image, url), children_cpu),
        }
        for round_ in range(rounds):
            order = (
                ["local", "cli", "remote", "pipe"] if round_ % 2 == 0 else ["cli", "local", "pipe", "remote"]
            )
            for key in order:
                runs[key].append(measured(bench, *work[key]))
                print(f"  {key}: {runs[key][-1]}", file=sys.stderr)
    return {"runs": runs, "fixed": fixed}


def memory(bench: Bench, image: ImageFile, small: ImageFile) -> dict[str, Any]:
    """A fresh daemon: its memory after a warm-up call, and at its peak during a LOCAL and a
    REMOTE transfer of the image."""
    url = served(bench, image)
    with running_daemon(BIN / "cloudkeeper-os", bench.cloud.config_file, bench.folder.parent, images={
        "local_directories": [str(bench.folder)]
    }) as daemon:  # fmt: skip
        add(bench, daemon, appliance(small, str(small.path)), small)
        result: dict[str, Any] = {"idle_kib": daemon.rss_kib(), "hwm_before_kib": daemon.hwm_kib()}
        for key, request in (
            ("local", appliance(image, str(image.path))),
            ("remote", appliance(image, url, remote=credentials(bench))),
        ):
            with daemon.watched() as watch:
                seconds = add(bench, daemon, request, image)
            result[key] = {"peak_kib": watch.peak_rss_kib, "samples": watch.samples, "seconds": seconds}
            print(f"  {image.size // MIB} MiB {key}: {watch.peak_rss_kib / 1024:.0f} MiB", file=sys.stderr)
        result["hwm_kib"] = daemon.hwm_kib()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="MiB, for the comparisons (default 1024)")
    parser.add_argument("--small", type=int, default=512, help="MiB, the smaller memory run (default 512)")
    parser.add_argument("--large", type=int, default=2048, help="MiB, the larger memory run (default 2048)")
    parser.add_argument("--rounds", type=int, default=4, help="runs of each comparison (default 4)")
    parser.add_argument("--scratch", type=Path, help="folder for the data (default: a temporary one on disk)")
    args = parser.parse_args(argv)
    command = " ".join(["python", *sys.argv]) if argv is None else "main()"
    sizes = {"compare": args.size * MIB, "small": args.small * MIB, "large": args.large * MIB}
    started = time.monotonic()
    parent = args.scratch or scratch_parent()
    with tempfile.TemporaryDirectory(prefix="ckos-bench-transfer-", dir=parent) as scratch:
        folder = Path(scratch)
        (folder / "data").mkdir()
        print(f"writing {sum(sizes.values()) // MIB + 1} MiB of random data to {folder}", file=sys.stderr)
        files = {key: random_file(folder / "data" / f"{key}.raw", size) for key, size in sizes.items()}
        tiny = random_file(folder / "data" / "tiny.raw", MIB)
        results: dict[str, Any] = {"scratch": parent, "load": ", ".join(f"{n:.1f}" for n in os.getloadavg())}
        with (
            running_devcloud(folder / "devcloud", vos={VO: "bench"}) as cloud,
            ImageServer(str(uuid.uuid4()), str(uuid.uuid4())) as server,
        ):
            images = glanceclient.Client("2", session=cloud.admin_session(), region_name=cloud.region).images
            bench = Bench(cloud, images, openrc_env(cloud.openrc), folder / "data", server)
            print("comparing with the glance command line", file=sys.stderr)
            results["compare"] = compare(bench, files["compare"], tiny, args.rounds)
            print("measuring memory", file=sys.stderr)
            results["memory"] = {key: memory(bench, files[key], tiny) for key in ("small", "large")}
    text, met = report(results, command, sizes)
    print(text)
    print(f"\ntotal {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

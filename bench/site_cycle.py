"""Glance requests of a site cycle: N per-VO cores, fired together by their timers (`make bench`).

Starts a devcloud with N mapped projects (10, then 40), serves ckos in this process over it (its
default configuration: listings shared for [catalog] listing_max_age), syncs one list of a few
appliances per VO, then measures steady-state cycles: every VO's core running at once against
the one daemon, and the same cycle with the cores one after the other. Every Glance request ckos
sends is counted (bench_meter.Meter). The target (issue: "Scale with VOs"): a steady-state run
costs at most 3 Glance requests per project, and overlapping runs share their listings.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from bench_meter import Meter  # noqa: E402
from ckos.config import LoggingSettings  # noqa: E402
from ckos.entrypoints import logs  # noqa: E402
from requests_per_sync import image_list, serving  # noqa: E402
from support import core  # noqa: E402
from support.devcloud import DevCloud, running_devcloud  # noqa: E402

APPLIANCES = 3  # per VO
PROJECT_COUNTS = (10, 40)


def vos(count: int) -> dict[str, str]:
    return {f"cycle{n}.example.eu": f"cycle{n}" for n in range(count)}


def run_all(target: str, lists: Sequence[Path], spool: Path, *, together: bool) -> float:
    started = time.monotonic()
    if together:
        with ThreadPoolExecutor(len(lists)) as cores:
            runs = list(cores.map(lambda path: core.run(target, path, spool), lists))
    else:
        runs = [core.run(target, path, spool) for path in lists]
    for path, run in zip(lists, runs, strict=True):
        failed = [call for call in run.calls if call.code.name != "OK"]
        if run.exit_code != 0 or failed:
            raise SystemExit(f"run of {path.name} failed (exit {run.exit_code}): {failed or run.crash}")
    return time.monotonic() - started


def measure(cloud: DevCloud, folder: Path, count: int) -> dict[str, Any]:
    meter = Meter(keystone=cloud.keystone_url.removesuffix("/v3"), glance=cloud.glance_url)
    lists = [image_list(vo, APPLIANCES, folder) for vo in vos(count)]
    results: dict[str, Any] = {"projects": count}
    with meter.installed(), serving(cloud, meter) as (_app, target):
        run_all(target, lists, cloud.images_dir, together=False)  # the first sync: every image added
        for name, chosen, together in (
            ("one run alone", lists[:1], False),
            ("together", lists, True),
            ("one after the other", lists, False),
        ):
            time.sleep(31)  # past listing_max_age: the cycle starts with nothing shared
            meter.reset()
            seconds = run_all(target, chosen, cloud.images_dir, together=together)
            summary = meter.summary()
            results[name] = {
                "runs": len(chosen),
                "seconds": seconds,
                "glance": summary["glance"],
                "keystone": summary["keystone"],
            }
    return results


def report(all_results: list[dict[str, Any]], command: str) -> tuple[str, bool]:
    lines = [
        f"command: `{command}`",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {platform.node()}, {platform.platform()}, Python {platform.python_version()}",
        "",
        "| projects | cycle | runs | Glance requests | per run and project | Keystone | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    met = True
    for results in all_results:
        count = results["projects"]
        for name in ("one run alone", "together", "one after the other"):
            cycle = results[name]
            per = cycle["glance"] / cycle["runs"] / count
            met = met and per <= 3
            lines.append(
                f"| {count} | {name} | {cycle['runs']} | {cycle['glance']} | {per:.2f} | {cycle['keystone']} "
                f"| {cycle['seconds']:.1f} |"
            )
    return "\n".join(lines), met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, nargs="*", default=list(PROJECT_COUNTS))
    args = parser.parse_args(argv)
    logs.configure(LoggingSettings(level="WARNING"))
    command = " ".join(["python", *sys.argv]) if argv is None else "main()"
    all_results = []
    for count in args.projects:
        with tempfile.TemporaryDirectory(prefix="ckos-cycle-") as scratch:
            lists = Path(scratch) / "lists"
            lists.mkdir()
            with running_devcloud(Path(scratch) / "devcloud", vos=vos(count)) as cloud:
                all_results.append(measure(cloud, lists, count))
    text, met = report(all_results, command)
    print(text)
    print(f"\ntarget (at most 3 Glance requests per run and project): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

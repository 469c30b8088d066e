"""How many Glance and Keystone requests ckos makes in a steady-state sync run (`make bench`).

Starts its own devcloud (scripts/devcloud, 4 VOs -> 4 projects) in a temporary folder, serves
ckos in this process over the devcloud's generated configuration, and lets the core simulator
(tests/support/core.py) sync one image list per VO. The lists grow in steps (SIZES appliances
per project); after each step every list is synced once more, unchanged: that run is the steady
state, and the requests ckos sends during it are counted. The target is a constant number of
requests per project and listing page, independent of the number of appliances.

Counting is on ckos's side of the wire: every HTTP request this process sends goes through
requests.Session.send (keystoneauth1 sessions, hence glanceclient, use requests), which is wrapped
to count it by server (Keystone or Glance), method and path, and by the RPC being served. Nothing
else in the process speaks HTTP while a run is measured (the simulator speaks gRPC).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the core simulator and the devcloud driver

from bench_meter import Meter, MeteredBackend  # noqa: E402
from ckos.adapters.glance import catalog  # noqa: E402
from ckos.bootstrap import Application, build  # noqa: E402
from ckos.config import LoggingSettings, load  # noqa: E402
from ckos.entrypoints import logs  # noqa: E402
from support import core  # noqa: E402
from support.devcloud import DevCloud, running_devcloud  # noqa: E402
from support.grpc_server import running_server  # noqa: E402

VOS = {f"bench{n}.example.eu": f"bench{n}" for n in range(1, 5)}
SIZES = (5, 20, 50)  # appliances per project, grown one after the other: 200 in all at the end
SMALL_PAGE = 20  # a listing page size that makes the last step's listings take several pages
TEMPLATE = REPO.parent / "shared" / "fixtures" / "imagelists" / "imagelist_v1.json"
NAMESPACE = uuid.UUID("6f1c0a52-1d7e-4c1b-9a43-0b7f5e2d8c61")
LISTING = ["PreAction", "RemoveExpiredAppliances", "ImageLists", "Appliances", "PostAction"]


def image_list(vo: str, count: int, folder: Path) -> Path:
    """The VO's image list with `count` appliances (the first ones stay the same as it grows)."""
    raw: dict[str, Any] = json.loads(TEMPLATE.read_text())
    body = raw["hv:imagelist"]
    template = body["hv:images"][0]["hv:image"]
    entries = []
    for n in range(count):
        identifier = str(uuid.uuid5(NAMESPACE, f"{vo} appliance {n}"))
        uri = f"http://127.0.0.1:8080/{vo}/appliance-{n}.qcow2"
        entry = {
            **template,
            "dc:identifier": identifier,
            "dc:title": f"Image for bench appliance {n} [Ubuntu/22.04/KVM]",
            "ad:mpuri": f"https://appdb.egi.eu/store/vo/image/{identifier}:1/",
            "ad:base_mpuri": f"https://appdb.egi.eu/store/vm/image/{identifier}:1/",
            "hv:uri": uri,
            "sl:checksum:sha512": hashlib.sha512(uri.encode()).hexdigest(),
            "dc:date:expires": "2099-12-31T00:00:00Z",
        }
        entries.append({"hv:image": entry})
    body.update(
        {"dc:identifier": str(uuid.uuid5(NAMESPACE, f"{vo} list")), "ad:vo": vo, "hv:images": entries}
    )
    path = folder / f"{vo}.json"
    path.write_text(json.dumps(raw))
    return path


@contextmanager
def serving(cloud: DevCloud, meter: Meter) -> Iterator[tuple[Application, str]]:
    """ckos as the devcloud configures it (fresh sessions, so it authenticates on first use)."""
    settings = load(cloud.config_file)
    app = build(settings)
    with running_server(MeteredBackend(app.backend, meter), settings.server) as target:
        yield app, target


def sync(target: str, lists: Sequence[Path], spool: Path) -> list[core.Run]:
    runs = [core.run(target, path, spool) for path in lists]
    for path, run in zip(lists, runs, strict=True):
        failed = [call for call in run.calls if call.code.name != "OK"]
        if run.exit_code != 0 or failed:
            raise SystemExit(f"sync of {path.name} failed (exit {run.exit_code}): {failed or run.crash}")
    return runs


def steady(target: str, lists: Sequence[Path], spool: Path, meter: Meter) -> dict[str, Any]:
    """One unchanged run per list; what ckos sent to Glance and Keystone during them."""
    meter.reset()
    started = time.monotonic()
    runs = sync(target, lists, spool)
    elapsed = time.monotonic() - started
    for path, run in zip(lists, runs, strict=True):
        if [rpc for rpc, _ in run.sequence()] != LISTING:
            raise SystemExit(
                f"the steady-state run of {path.name} was not only the listing: {run.sequence()}"
            )
    return {"runs": len(runs), "seconds": elapsed, **meter.summary()}


def measure(cloud: DevCloud, folder: Path) -> dict[str, Any]:
    meter = Meter(keystone=cloud.keystone_url.removesuffix("/v3"), glance=cloud.glance_url)
    spool = cloud.images_dir  # the configuration's [images] local_directories
    results: dict[str, Any] = {"steps": []}
    lists: list[Path] = []
    with meter.installed(), serving(cloud, meter) as (_app, target):
        for size in SIZES:
            lists = [image_list(vo, size, folder) for vo in VOS]
            meter.reset()
            started = time.monotonic()
            runs = sync(target, lists, spool)
            added = sum(1 for run in runs for call in run.calls if call.rpc == "AddAppliance")
            growth = {"added": added, "seconds": time.monotonic() - started, **meter.summary()}
            results["steps"].append(
                {"size": size, "growth": growth, "steady": steady(target, lists, spool, meter)}
            )
        with page_size(SMALL_PAGE):
            results["small_pages"] = steady(target, lists, spool, meter)
        # A daemon just started: the same steady-state runs, with every project's session new.
        with serving(cloud, meter) as (_fresh, fresh_target):
            results["fresh_daemon"] = steady(fresh_target, lists, spool, meter)
    return results


@contextmanager
def page_size(size: int) -> Iterator[None]:
    """The Glance adapter's listing page size, changed for a while."""
    normal = catalog.PAGE_SIZE
    catalog.PAGE_SIZE = size
    try:
        yield
    finally:
        catalog.PAGE_SIZE = normal


HEADER = (
    "appliances per project", "appliances", "steady-state runs", "Glance requests", "per run",
    "per project and run", "Keystone requests", "seconds per run",
)  # fmt: skip


def report(results: dict[str, Any], command: str) -> str:
    projects = len(VOS)
    machine = f"{platform.node()}, {platform.platform()}, Python {platform.python_version()}"
    rows = [HEADER, tuple("---" for _ in HEADER)]
    for step in results["steps"]:
        s = step["steady"]
        per_run = s["glance"] / s["runs"]
        rows.append(
            (step["size"], step["size"] * projects, s["runs"], s["glance"], f"{per_run:g}",
             f"{per_run / projects:g}", s["keystone"], f"{s['seconds'] / s['runs']:.2f}")
        )  # fmt: skip
    lines = [
        f"command: `{command}`",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {machine}",
        "",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    fresh, small = results["fresh_daemon"], results["small_pages"]
    lines += [
        "",
        f"Listing pages of {SMALL_PAGE} instead of {catalog.PAGE_SIZE}, the same {small['runs']} runs at "
        f"{results['steps'][-1]['size']} per project: {small['glance']} Glance requests "
        f"({small['glance'] / small['runs'] / projects:g} per project and run).",
        "",
        f"A daemon just started, the same {fresh['runs']} runs at {results['steps'][-1]['size']} per project:"
        f" {fresh['glance']} Glance and {fresh['keystone']} Keystone requests "
        f"({', '.join(f'{call} x {n}' for call, n in sorted(fresh['keystone_by_call'].items()))});"
        " its Glance requests by RPC:",
        "",
        *by_rpc(fresh),
        "",
        "Steady-state Glance requests by RPC (last step, all runs):",
        "",
        *by_rpc(results["steps"][-1]["steady"]),
    ]
    lines += ["", "Growing the lists (adding each step's new appliances):", ""]
    for step in results["steps"]:
        g = step["growth"]
        per_add = g["glance"] / g["added"] if g["added"] else 0
        lines.append(
            f"- to {step['size']} per project: {g['added']} added, {g['glance']} Glance requests "
            f"({per_add:.2f} per added appliance), {g['keystone']} Keystone, {g['seconds']:.1f} s"
        )
    last = results["steps"][-1]["growth"]
    lines += [
        "",
        f"Glance requests of AddAppliance per added appliance (last step, {last['added']} added):",
        "",
    ]
    for (rpc, call), count in sorted(last["by_rpc"].items()):
        if rpc == "AddAppliance":
            lines.append(f"- {call} x {count / last['added']:g}")
    return "\n".join(lines)


def by_rpc(measured: dict[str, Any]) -> list[str]:
    return [f"- {rpc}: {call} x {count}" for (rpc, call), count in sorted(measured["by_rpc"].items())]


def constant(results: dict[str, Any]) -> bool:
    """Whether the steady-state counts are the same at every size (the target)."""
    counts = {(step["steady"]["glance"], step["steady"]["keystone"]) for step in results["steps"]}
    return len(counts) == 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run the devcloud in this folder and keep its logs")
    args = parser.parse_args(argv)
    logs.configure(LoggingSettings(level="WARNING"))
    command = " ".join(["python", *sys.argv]) if argv is None else "main()"
    with tempfile.TemporaryDirectory(prefix="ckos-bench-") as scratch:
        folder = args.keep or Path(scratch) / "devcloud"
        lists = Path(scratch) / "lists"
        lists.mkdir()
        started = time.monotonic()
        with running_devcloud(folder, vos=VOS) as cloud:
            results = measure(cloud, lists)
    print(report(results, command))
    met = constant(results)
    print(
        f"\ntotal {time.monotonic() - started:.0f} s; target (constant per project and listing page): "
        f"{'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

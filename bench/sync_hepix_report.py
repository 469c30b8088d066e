"""The HEPiX sync benchmark's report: Markdown for docs/benchmarks.md, and whether the targets were met."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sync_hepix_site import CoreRun
from sync_oci_report import ShellRun, _calls, median
from sync_oci_report import table as oci_table
from sync_oci_site import MIB, SyncRun
from transfer_report import _cpu_model, _memory_gib

TIME_TARGET = 1.1  # the reference of the OCI benchmark: ckos at parallel = 1 / the hand's loop

Run = SyncRun | ShellRun | CoreRun


def _cpu(run: Run) -> float:
    return run.daemon_cpu if isinstance(run, CoreRun) else run.cpu


def table(total_bytes: int, rows: Sequence[tuple[str, Sequence[Run]]]) -> list[str]:
    return oci_table(total_bytes, rows, cpu=_cpu)


def _ratios(first: Sequence[Run], second: Sequence[Run]) -> str:
    return ", ".join(f"{a.seconds / b.seconds:.2f}" for a, b in zip(first, second, strict=True))


def report(results: dict[str, Any], command: str) -> tuple[str, bool]:
    size, count = results["size"], results["images"]
    c = results["compare"]
    p1, p2, core, hand = c["p1"], c["p2"], c["core"], c["shell"]
    core_runs: list[CoreRun] = core
    versus_hand = median(p1) / median(hand)
    versus_core = median(p1) / median(core)
    steady = results["steady"]["steady"]
    run: SyncRun = steady["run"]
    steady_ok = (
        steady["image_requests"] == 0
        and run.summary.get("uploaded_bytes") == 0
        and steady["glance_writes"] == 0
        and steady["glance_unchanged"]
    )
    met = {
        "steady state: no image downloaded, 0 Glance writes": steady_ok,
    }
    machine = (
        f"{os.cpu_count()} CPUs ({_cpu_model()}), {_memory_gib():.0f} GiB RAM, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    lines = [
        f"command: `{command}`",
        f"commit: {results['commit']}; ckos imported from {results['ckos']}",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {machine}; load average at the start {results['load']}",
        f"data: random bytes and work files in {results['scratch']} (not tmpfs); "
        f"{results['rounds']} rounds, the order rotating each round; total {results['seconds']:.0f} s",
        "",
        f"1. A signed list of {count} images of {size // MIB} MiB (qcow2), "
        "a first sync into an empty project:",
        "",
        *table(
            count * size,
            [
                ("ckos `sync`, `parallel = 1`", p1),
                ("ckos `sync`, `parallel = 2`", p2),
                ("core 2.0 (download to spool) + `cloudkeeper-os serve` (LOCAL)", core),
                ("by hand: `curl URL \\| glance image-create`, one at a time", hand),
            ],
        ),
        "",
        "   core + daemon, per run: list fetched and verified "
        f"{', '.join(f'{r.list_seconds:.2f}' for r in core_runs)} s; downloads to the spool "
        f"{', '.join(f'{r.download_seconds:.2f}' for r in core_runs)} s "
        f"(median {statistics.median(r.download_seconds for r in core_runs):.2f}); AddAppliance calls "
        f"{', '.join(f'{r.call_seconds:.2f}' for r in core_runs)} s "
        f"(median {statistics.median(r.call_seconds for r in core_runs):.2f})",
        f"   ckos parallel 1 / by hand (medians): **{versus_hand:.2f}x** (the OCI target, <= {TIME_TARGET}x: "
        f"{'met' if versus_hand <= TIME_TARGET else 'NOT met'}); per round {_ratios(p1, hand)}",
        f"   ckos parallel 1 / core + daemon (medians): **{versus_core:.2f}x**; "
        f"per round {_ratios(p1, core)}",
        f"   ckos parallel 2 / core + daemon: {median(p2) / median(core):.2f}x; "
        f"speedup of parallel 2 over parallel 1 (medians): **{median(p1) / median(p2):.2f}x**",
        "",
        f"2. Steady state ({count} images, nothing changed), and the first sync before it "
        "(parallel 2), counted:",
        "",
        "| run | seconds | list requests | image requests | uploaded bytes (ckos) | Glance requests "
        "| Glance writes | Keystone requests |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("first", "steady"):
        r = results["steady"][name]
        lines.append(
            f"| {name} | {r['run'].seconds:.2f} | {r['list_requests']} | {r['image_requests']} "
            f"| {r['run'].summary.get('uploaded_bytes')} | {sum(r['glance'].values())} "
            f"| {r['glance_writes']} | {sum(r['keystone'].values())} |"
        )
    lines += [""]
    for name in ("first", "steady"):
        r = results["steady"][name]
        lines += [
            f"   {name}: other requests to the list server: {r['other_requests']}",
            f"   {name}: Glance {_calls(r['glance'])}",
            f"   {name}: Keystone {_calls(r['keystone'])}",
        ]
    lines += [
        "",
        "   Glance unchanged by the steady-state run (ids, updated_at, status): "
        f"{steady['glance_unchanged']}; target: {'met' if steady_ok else 'NOT met'}",
        "",
        "Targets: " + "; ".join(f"{key}: {'met' if ok else 'NOT met'}" for key, ok in met.items()),
    ]
    return "\n".join(lines), all(met.values())

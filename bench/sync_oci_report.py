"""The sync benchmark's report: Markdown for docs/benchmarks.md, and whether the targets were met."""

from __future__ import annotations

import os
import platform
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from attrs import frozen

from sync_oci_site import MIB, SyncRun
from transfer_report import _cpu_model, _memory_gib

TIME_TARGET = 1.1  # ckos at parallel = 1 / the shell loop
FLAT_MIB = 16.0  # peak RSS growth from the small to the large image that still counts as flat


@frozen
class ShellRun:
    seconds: float
    cpu: float  # CPU seconds of its processes (bash, curl, glance, qemu-img)
    glance_cpu: float


class Timed(Protocol):
    @property
    def seconds(self) -> float: ...

    @property
    def glance_cpu(self) -> float: ...


def median(runs: Sequence[Timed]) -> float:
    return statistics.median(run.seconds for run in runs)


def _cpu(run: Any) -> float:
    cpu: float = run.cpu
    return cpu


def table(
    total_bytes: int, rows: Sequence[tuple[str, Sequence[Timed]]], cpu: Callable[[Any], float] = _cpu
) -> list[str]:
    """The runs of each contender: times, median, throughput, best, CPU (`cpu` reads a run's own)."""
    lines = [
        "| | seconds per run | median | MiB/s (median) | best | its CPU s (median) "
        "| Glance CPU s (median) | peak RSS (max) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs in rows:
        middle = median(runs)
        rss = max((r.maxrss_kib for r in runs if isinstance(r, SyncRun)), default=0)
        lines.append(
            f"| {name} | {', '.join(f'{r.seconds:.2f}' for r in runs)} | {middle:.2f} "
            f"| {total_bytes / MIB / middle:.0f} | {min(r.seconds for r in runs):.2f} "
            f"| {statistics.median(cpu(r) for r in runs):.1f} "
            f"| {statistics.median(r.glance_cpu for r in runs):.1f} "
            f"| {f'{rss / 1024:.0f} MiB' if rss else '-'} |"
        )
    return lines


def _calls(counter: Counter[str]) -> str:
    return ", ".join(f"`{call}` x{count}" for call, count in sorted(counter.items())) or "none"


def report(results: dict[str, Any], command: str) -> tuple[str, bool]:
    sizes, counts = results["sizes"], results["counts"]
    image_mib = sizes["image"] // MIB
    c = results["compare"]
    ratio = median(c["p1"]) / median(c["shell"])
    speedup = median(c["p1"]) / median(c["p2"])
    steady = results["steady"]["steady"]
    run: SyncRun = steady["run"]
    steady_ok = (
        steady["registry"].blob_bytes == 0
        and run.summary.get("uploaded_bytes") == 0
        and steady["glance_writes"] == 0
        and steady["glance_unchanged"]
    )
    m = results["memory"]
    small_rss = max(r.maxrss_kib for r in m["small"]) / 1024
    large_rss = max(r.maxrss_kib for r in m["large"]) / 1024
    growth = large_rss - small_rss
    v = results["convert"]
    convert_ratio = median(v["p1"]) / median(v["hand"])
    met = {
        f"parallel 1 within {TIME_TARGET}x of the shell": ratio <= TIME_TARGET,
        "steady state: 0 bytes downloaded, 0 Glance writes": steady_ok,
        "peak RSS flat": growth <= FLAT_MIB,
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
        f"data: random bytes, registry storage and work files in {results['scratch']} (not tmpfs); "
        f"{results['rounds']} rounds, the order rotating each round; total {results['seconds']:.0f} s",
        "",
        f"1. {counts['images']} images of {image_mib} MiB, a first sync into an empty project:",
        "",
        *table(
            counts["images"] * sizes["image"],
            [
                ("ckos `parallel = 1`", c["p1"]),
                ("ckos `parallel = 2`", c["p2"]),
                ("shell: `curl blob \\| glance image-create`, one at a time", c["shell"]),
            ],
        ),
        "",
        f"   ckos parallel 1 / shell (medians): **{ratio:.2f}x** (target <= {TIME_TARGET}x): "
        f"{'met' if ratio <= TIME_TARGET else 'NOT met'}; best runs "
        f"{min(r.seconds for r in c['p1']) / min(r.seconds for r in c['shell']):.2f}x",
        f"   speedup of parallel 2 over parallel 1 (medians): **{speedup:.2f}x**; "
        f"parallel 2 / shell: {median(c['p2']) / median(c['shell']):.2f}x",
        "",
        f"2. Steady state ({counts['images']} images, nothing changed), and the first sync before it "
        "(parallel 2), counted:",
        "",
        "| run | seconds | bytes downloaded (blobs) | uploaded bytes (ckos) | registry requests "
        "| Glance requests | Glance writes | Keystone requests |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("first", "steady"):
        r = results["steady"][name]
        lines.append(
            f"| {name} | {r['run'].seconds:.2f} | {r['registry'].blob_bytes} "
            f"| {r['run'].summary.get('uploaded_bytes')} | {len(r['registry'].requests)} "
            f"| {sum(r['glance'].values())} | {r['glance_writes']} | {sum(r['keystone'].values())} |"
        )
    lines += [""]
    for name in ("first", "steady"):
        r = results["steady"][name]
        kinds = ", ".join(f"`{kind}` x{n}" for kind, n in r["registry"].kinds().items()) or "none"
        lines += [
            f"   {name}: registry {kinds}",
            f"   {name}: Glance {_calls(r['glance'])}",
            f"   {name}: Keystone {_calls(r['keystone'])}",
        ]
    lines += [
        "",
        "   Glance unchanged by the steady-state run (ids, updated_at, status): "
        f"{steady['glance_unchanged']}; target: {'met' if steady_ok else 'NOT met'}",
        "",
        "3. Peak RSS of `cloudkeeper-os sync` (wait4's ru_maxrss, a fresh process per run, parallel 1, "
        "one image):",
        "",
        "| image | peak RSS per run | seconds per run |",
        "| --- | --- | --- |",
    ]
    for key in ("small", "large"):
        lines.append(
            f"| {sizes[key] // MIB} MiB | {', '.join(f'{r.maxrss_kib / 1024:.1f} MiB' for r in m[key])} "
            f"| {', '.join(f'{r.seconds:.2f}' for r in m[key])} |"
        )
    lines += [
        "",
        f"   growth from {sizes['small'] // MIB} MiB to {sizes['large'] // MIB} MiB (max of runs): "
        f"{growth:+.1f} MiB (flat: <= {FLAT_MIB:.0f} MiB): {'met' if growth <= FLAT_MIB else 'NOT met'}",
        "",
        f"4. Conversion to raw: {counts['qcow2']} qcow2 images of {image_mib} MiB virtual size "
        "(random data), a first sync:",
        "",
        *table(
            counts["qcow2"] * sizes["image"],
            [
                ('ckos `formats = ["raw"]`, `parallel = 1`', v["p1"]),
                ('ckos `formats = ["raw"]`, `parallel = 2`', v["p2"]),
                ("by hand: `curl -o`, `qemu-img convert`, `glance image-create --file`", v["hand"]),
            ],
        ),
        "",
        f"   ckos parallel 1 / by hand (medians): **{convert_ratio:.2f}x**; parallel 2 / by hand: "
        f"{median(v['p2']) / median(v['hand']):.2f}x",
        "",
        "Targets: " + "; ".join(f"{key}: {'met' if ok else 'NOT met'}" for key, ok in met.items()),
    ]
    return "\n".join(lines), all(met.values())

"""The transfer benchmark's report: Markdown for docs/benchmarks.md, and whether targets were met."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attrs import frozen

MIB = 1024 * 1024
GIB = 1024 * MIB
RSS_TARGET_KIB = 150 * 1000 * 1000 // 1024  # 150 MB


@frozen
class Run:
    seconds: float
    client_cpu: float  # CPU seconds of the ckos daemon, or of the command line's processes
    glance_cpu: float  # CPU seconds of Glance's gunicorn (master and worker)


def throughput(size: int, seconds: float) -> float:
    return size / MIB / seconds


def median(runs: Sequence[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


def table(size: int, rows: Sequence[tuple[str, list[Run], float]]) -> list[str]:
    """One comparison: each contender's runs, best time and throughput, CPU, fixed cost."""
    lines = [
        "| | seconds per run | median | MiB/s (median) | best | its CPU s per run "
        "| Glance CPU s per run | fixed cost (1 MiB image) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs, fixed in rows:
        middle = median(runs)
        lines.append(
            f"| {name} | {', '.join(f'{run.seconds:.2f}' for run in runs)} | {middle:.2f} "
            f"| {throughput(size, middle):.0f} | {min(run.seconds for run in runs):.2f} "
            f"| {', '.join(f'{run.client_cpu:.1f}' for run in runs)} "
            f"| {', '.join(f'{run.glance_cpu:.1f}' for run in runs)} | {fixed:.2f} s |"
        )
    return lines


def report(results: dict[str, Any], command: str, sizes: Mapping[str, int]) -> tuple[str, bool]:
    c = results["compare"]
    runs, fixed = c["runs"], c["fixed"]
    size = sizes["compare"]
    middle = {key: median(values) for key, values in runs.items()}
    best = {key: min(run.seconds for run in values) for key, values in runs.items()}
    local_ratio = middle["cli"] / middle["local"]  # ckos throughput / command line throughput
    remote_ratio = middle["remote"] / middle["pipe"]  # ckos time / pipe time
    mib = size // MIB
    machine = (
        f"{platform.node()}, {os.cpu_count()} CPUs ({_cpu_model()}), "
        f"{_memory_gib():.0f} GiB RAM, {platform.platform()}, Python {platform.python_version()}"
    )
    lines = [
        f"command: `{command}` (devcloud Glance: file store on local disk, one gunicorn worker)",
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {machine}; load average at the start {results['load']}",
        f"data: random bytes, files in {results['scratch']} (not tmpfs), page-cached when read",
        "",
        f"1. LOCAL {mib} MiB, {len(runs['local'])} runs each, alternating who goes first:",
        "",
        *table(
            size,
            [
                ("ckos AddAppliance", runs["local"], fixed["local"]),
                ("`glance image-upload --file`", runs["cli"], fixed["cli"]),
            ],
        ),
        "",
        f"   ckos / command line throughput (medians): **{local_ratio:.2f}x** (target >= 0.9x); "
        f"best runs: {best['cli'] / best['local']:.2f}x",
        "",
        f"2. REMOTE {mib} MiB from a local web server with basic auth, {len(runs['remote'])} runs each:",
        "",
        *table(
            size,
            [
                ("ckos AddAppliance", runs["remote"], fixed["remote"]),
                ("`curl -u ... URL \\| glance image-upload ID`", runs["pipe"], fixed["pipe"]),
            ],
        ),
        "",
        f"   ckos / pipe time (medians): **{remote_ratio:.2f}x** (target <= 1.1x); "
        f"best runs: {best['remote'] / best['pipe']:.2f}x",
        "",
        "3. Daemon resident memory (a fresh `cloudkeeper-os serve` per size; VmRSS sampled every 20 ms):",
        "",
        "| image | idle after a 1 MiB add | peak, LOCAL | peak, REMOTE | VmHWM at the end |",
        "| --- | --- | --- | --- | --- |",
    ]
    peaks = []
    for key in ("small", "large"):
        m = results["memory"][key]
        peaks += [m["local"]["peak_kib"], m["remote"]["peak_kib"], m["hwm_kib"]]
        cells = [m["idle_kib"], m["local"]["peak_kib"], m["remote"]["peak_kib"], m["hwm_kib"]]
        row = [f"{sizes[key] // MIB} MiB", *(f"{c / 1024:.1f} MiB" for c in cells)]
        lines.append("| " + " | ".join(row) + " |")
    small_hwm, large_hwm = results["memory"]["small"]["hwm_kib"], results["memory"]["large"]["hwm_kib"]
    growth = (large_hwm - small_hwm) / 1024
    met = {
        "local": local_ratio >= 0.9,
        "remote": remote_ratio <= 1.1,
        "memory": max(peaks) <= RSS_TARGET_KIB,
    }
    lines += [
        "",
        f"   peak growth from {sizes['small'] // MIB} MiB to {sizes['large'] // MIB} MiB: {growth:+.1f} MiB; "
        f"target <= 150 MB ({RSS_TARGET_KIB / 1024:.0f} MiB): {'met' if met['memory'] else 'NOT met'}",
        "",
        "Targets: " + ", ".join(f"{key} {'met' if ok else 'NOT met'}" for key, ok in met.items()),
    ]
    return "\n".join(lines), all(met.values())


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB

"""A sync run's figures in Prometheus text format, for node_exporter's textfile collector.

Written atomically (prometheus_client writes a temporary file and renames it), so the collector
never reads half a file. The figures are counts and times only: no image or project names.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from ckos.domain.sync import SourceReport


def write(path: Path, reports: Iterable[SourceReport], *, finished_at: float, succeeded: bool) -> None:
    """Write the run's figures; the last success time is kept from the previous file on failure."""
    registry = CollectorRegistry()

    def gauge(name: str, text: str, *labels: str) -> Gauge:
        return Gauge(f"cloudkeeper_os_sync_{name}", text, labels, registry=registry)

    last = gauge(
        "last_success_timestamp_seconds", "When a sync last read every source completely and applied it"
    )
    previous = _previous_success(path)
    if succeeded:
        last.set(finished_at)
    elif previous is not None:
        last.set(previous)
    gauge("last_run_timestamp_seconds", "When the last sync ended").set(finished_at)
    complete = gauge("source_complete", "1 when the source was read completely", "source")
    changes = gauge("changes", "Changes applied in the last run", "source", "change")
    failures = gauge("failures", "Appliances that failed in the last run", "source")
    held = gauge("removals_held", "Removals the deletion budget held back in the last run", "source")
    uploaded = gauge("uploaded_bytes", "Bytes uploaded to Glance in the last run", "source")
    for report in reports:
        complete.labels(report.name).set(1 if report.complete else 0)
        for change, count in (
            ("added", report.added),
            ("updated", report.updated),
            ("metadata_updated", report.metadata_updated),
            ("retired", report.retired),
        ):
            changes.labels(report.name, change).set(count)
        failures.labels(report.name).set(report.failed)
        held.labels(report.name).set(report.removals_held)
        uploaded.labels(report.name).set(report.uploaded_bytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def _previous_success(path: Path) -> float | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("cloudkeeper_os_sync_last_success_timestamp_seconds "):
            try:
                return float(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None

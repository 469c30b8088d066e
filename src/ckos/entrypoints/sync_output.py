"""What `cloudkeeper-os sync` prints: a JSON summary (fixed fields), or lines for a person."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ckos.domain.model import Appliance
from ckos.domain.sync import SourceReport

COUNTS = ("added", "updated", "metadata_updated", "retired", "unchanged", "failed")


def json_summary(reports: Sequence[SourceReport], *, dry_run: bool) -> dict[str, Any]:
    """`{"sources": [{name, complete, added, ...}], "uploaded_bytes"}`, extended, never renamed."""
    sources = []
    for report in reports:
        entry: dict[str, Any] = {"name": report.name, "complete": report.complete}
        entry.update({count: getattr(report, count) for count in COUNTS})
        entry["removals_held"] = report.removals_held
        entry["uploaded_bytes"] = report.uploaded_bytes
        entry["problems"] = list(report.problems)
        if dry_run:
            entry["plan"] = _plan(report)
        sources.append(entry)
    return {"sources": sources, "uploaded_bytes": sum(r.uploaded_bytes for r in reports), "dry_run": dry_run}


def human(reports: Sequence[SourceReport], *, dry_run: bool) -> str:
    lines: list[str] = []
    for report in reports:
        state = "complete" if report.complete else "INCOMPLETE (nothing removed)"
        lines.append(f"source {report.name}: {state}")
        if dry_run:
            lines += [f"  would {line}" for line in _plan_lines(report)] or ["  nothing to do"]
        figures = ", ".join(f"{count.replace('_', ' ')} {getattr(report, count)}" for count in COUNTS)
        lines.append(f"  {'plan' if dry_run else 'done'}: {figures}, uploaded {report.uploaded_bytes} bytes")
        if report.removals_held:
            lines.append(f"  HELD BACK: {report.removals_held} removals over the deletion budget")
        lines += [f"  problem: {problem}" for problem in report.problems]
    return "\n".join(lines)


def _plan(report: SourceReport) -> dict[str, list[dict[str, str]]]:
    plan = report.plan
    return {
        "add": [_named(offer.appliance) for offer in plan.add],
        "update_image": [_named(offer.appliance) for offer in plan.update_image],
        "update_metadata": [_named(offer.appliance) for offer in plan.update_metadata],
        "retire": [_named(appliance) for appliance in plan.retire],
    }


def _plan_lines(report: SourceReport) -> list[str]:
    words = {
        "add": "add",
        "update_image": "update image",
        "update_metadata": "update metadata",
        "retire": "retire",
    }
    return [
        f"{words[action]} {item['identifier']} ({item['title']}, version {item['version'] or '-'})"
        for action, items in _plan(report).items()
        for item in items
    ]


def _named(appliance: Appliance) -> dict[str, str]:
    return {"identifier": appliance.identifier, "title": appliance.title, "version": appliance.version}

"""The sync, telling each HEPiX source once its list has been applied (for anti-rollback).

A list is remembered as the last accepted only after a run applied it: never in a dry run, never
when the catalog could not even be read. (The hook belongs in Sync.run; until it is there, this
subclass adds it without changing what the sync does.)
"""

from __future__ import annotations

import logging

from ckos.adapters.sources.hepix.source import HepixSource
from ckos.domain.backend import Backend
from ckos.domain.ports import ApplianceSource, Conversion
from ckos.domain.sync import SourceReport, Sync, SyncPolicy

log = logging.getLogger(__name__)


class AcceptingSync(Sync):
    def __init__(self, backend: Backend, conversion: Conversion, policy: SyncPolicy) -> None:
        super().__init__(backend, conversion, policy)
        self._dry_run = policy.dry_run

    def run(self, source: ApplianceSource) -> SourceReport:
        report = super().run(source)
        if isinstance(source, HepixSource) and not self._dry_run and _applied(report):
            try:
                source.applied()
            except OSError as error:
                message = f"source {source.name}: the applied list could not be remembered: {error}"
                log.error("%s", message)
                report.problems.append(message)
                report.failed += 1
        return report


def _applied(report: SourceReport) -> bool:
    # A complete report was planned and applied (some transfers may have failed: the list was
    # still acted on). An incomplete one was applied in part when it planned anything at all;
    # an empty plan with the source incomplete is what a list or catalog that could not be
    # read leaves.
    plan = report.plan
    return report.complete or bool(plan.changes or plan.unchanged)

"""`cloudkeeper-os sync`: converge the catalog on what each source offers, through the use cases.

A source is read, compared with the catalog (plan.py), and the plan applied by the same Backend
methods the core drives over gRPC: create-then-retire, metadata in place, never a second copy of
the catalog logic. A source that could not be read completely removes nothing; removals beyond
the deletion budget are held back unless the operator allows them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from attrs import define, field, frozen

from ckos.domain.backend import Backend
from ckos.domain.errors import CkosError
from ckos.domain.model import Appliance, ImageFormat
from ckos.domain.plan import Plan, plan
from ckos.domain.ports import ApplianceSource, Conversion
from ckos.domain.snapshot import Offer, Snapshot, SourceIncomplete

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


@frozen
class SyncPolicy:
    formats: tuple[ImageFormat, ...] = ()  # what the site wants, preferred first; () = as offered
    parallel: int = 2  # image transfers at once
    max_removals: int = 20  # per source and run
    max_removal_fraction: float = 0.5  # of the source's appliances in the catalog
    allow_mass_removal: bool = False
    dry_run: bool = False


@define
class SourceReport:
    """What one source's sync did (or, in a dry run, would do)."""

    name: str
    complete: bool
    plan: Plan
    added: int = 0
    updated: int = 0
    metadata_updated: int = 0
    retired: int = 0
    unchanged: int = 0
    failed: int = 0
    removals_held: int = 0  # removals the deletion budget held back
    uploaded_bytes: int = 0
    problems: list[str] = field(factory=list)

    @property
    def ok(self) -> bool:
        return self.complete and not self.failed


def target_format(offered: ImageFormat, wanted: Sequence[ImageFormat]) -> ImageFormat | None:
    """The format to convert to, or None to keep the offered one."""
    if not wanted or offered in wanted:
        return None
    return wanted[0]


class Sync:
    def __init__(self, backend: Backend, conversion: Conversion, policy: SyncPolicy) -> None:
        self._backend = backend
        self._conversion = conversion
        self._policy = policy

    def run(self, source: ApplianceSource) -> SourceReport:
        """Read the source, plan, and apply the plan (unless a dry run)."""
        empty = Plan(source=source.name)
        try:
            snapshot, complete, problems = _read(source)
        except CkosError as error:
            log.error("source %s could not be read: %s; nothing changes for it", source.name, error)
            return SourceReport(name=source.name, complete=False, plan=empty, problems=[str(error)])
        except Exception as error:  # a bug in one source must not stop the others: its trace logged
            log.exception("source %s: unexpected failure reading it; nothing changes for it", source.name)
            problem = f"unexpected {type(error).__name__} reading the source"
            return SourceReport(name=source.name, complete=False, plan=empty, problems=[problem])
        if snapshot is None:
            return SourceReport(name=source.name, complete=False, plan=empty, problems=problems)
        try:
            self._backend.ctx.directory.mapping().project_for(snapshot.vo)
            stored = self._backend.appliances(snapshot.image_list_identifier)
        except CkosError as error:
            log.error("source %s: the catalog could not be read: %s; nothing changes", source.name, error)
            return SourceReport(
                name=source.name, complete=False, plan=empty, problems=[*problems, str(error)]
            )
        now = self._backend.ctx.clock.now()
        the_plan = plan(snapshot, stored, complete=complete, now=now)
        report = SourceReport(name=source.name, complete=complete, plan=the_plan, problems=problems)
        report.unchanged = len(the_plan.unchanged)
        if not complete:
            log.warning("source %s was not read completely: nothing is removed for it this run", source.name)
        removals_allowed = self._within_budget(the_plan, report, stored_count=len(stored))
        if self._policy.dry_run:  # the figures of the plan: what a real run would do
            report.added, report.updated = len(the_plan.add), len(the_plan.update_image)
            report.metadata_updated = len(the_plan.update_metadata)
            report.retired = len(the_plan.retire) if removals_allowed else 0
            return report
        self._transfer(the_plan, report)
        self._rewrite_metadata(the_plan, report)
        if removals_allowed:
            self._retire(the_plan, report)
        _tell_applied(source, report)
        return report

    def _transfer(self, the_plan: Plan, report: SourceReport) -> None:
        jobs = [(offer, False) for offer in the_plan.add] + [(offer, True) for offer in the_plan.update_image]
        with ThreadPoolExecutor(max(1, self._policy.parallel), thread_name_prefix="ckos-sync") as pool:
            results = list(
                pool.map(lambda job: _guarded(report, job[0].appliance, self._register, job[0]), jobs)
            )
        for (_, update), uploaded in zip(jobs, results, strict=True):
            if uploaded is None:
                report.failed += 1
                continue
            report.uploaded_bytes += uploaded
            if update:
                report.updated += 1
            else:
                report.added += 1

    def _register(self, offer: Offer) -> int:
        """Make the offer's image live (converted if the site wants another format): bytes uploaded."""
        image = offer.appliance.image
        assert image is not None  # sources always describe the image
        target = target_format(image.format, self._policy.formats)
        if target is None:
            outcome = self._backend.add_appliance(offer.appliance, offer.source)
            return image.size if outcome.uploaded else 0
        with self._conversion.converted(offer, target) as ready:
            outcome = self._backend.add_appliance(ready.appliance, ready.source)
            assert ready.appliance.image is not None
            return ready.appliance.image.size if outcome.uploaded else 0

    def _rewrite_metadata(self, the_plan: Plan, report: SourceReport) -> None:
        for offer in the_plan.update_metadata:
            done = _guarded(report, offer.appliance, self._backend.update_appliance_metadata, offer.appliance)
            if done is None:
                report.failed += 1
            else:
                report.metadata_updated += 1

    def _within_budget(self, the_plan: Plan, report: SourceReport, *, stored_count: int) -> bool:
        """Whether the plan's removals fit the deletion budget (or the operator allowed more)."""
        removals = len(the_plan.retire)
        budget = min(self._policy.max_removals, int(self._policy.max_removal_fraction * stored_count))
        if removals <= budget or self._policy.allow_mass_removal:
            return True
        report.removals_held = removals
        message = (
            f"source {report.name}: {removals} of {stored_count} appliances would be removed, more than "
            f"the deletion budget allows ({budget}: max_removals {self._policy.max_removals}, "
            f"max_removal_fraction {self._policy.max_removal_fraction}); nothing removed. "
            "Check the source, then run with --allow-mass-removal if it is right"
        )
        log.error(message)
        report.problems.append(message)
        return False

    def _retire(self, the_plan: Plan, report: SourceReport) -> None:
        for appliance in the_plan.retire:
            if _guarded(report, appliance, self._backend.remove_appliance, appliance) is None:
                report.failed += 1
            else:
                report.retired += 1


def _guarded(report: SourceReport, appliance: Appliance, action: Callable[[T], R], argument: T) -> R | None:
    """Run one change; a failure is logged and noted, and the run goes on with the others."""
    try:
        return action(argument)
    except CkosError as error:
        log.error("appliance %s: %s", appliance.identifier, error)
        report.problems.append(f"appliance {appliance.identifier}: {error}")
    except Exception as error:  # a bug must not stop the other appliances: logged with its trace
        log.exception("appliance %s: unexpected failure", appliance.identifier)
        report.problems.append(f"appliance {appliance.identifier}: unexpected {type(error).__name__}")
    return None


def _tell_applied(source: ApplianceSource, report: SourceReport) -> None:
    # Said when the plan was applied, in part too (some transfers may have failed: the snapshot was
    # still acted on); a source incomplete with nothing planned was not read enough to say it.
    if not (report.complete or report.plan.changes or report.plan.unchanged):
        return
    try:
        source.applied()
    except CkosError as error:
        log.error("source %s: %s", source.name, error)
        report.problems.append(str(error))
        report.failed += 1


def _read(source: ApplianceSource) -> tuple[Snapshot | None, bool, list[str]]:
    """The snapshot, whether it is complete, and what kept it from being so."""
    try:
        return source.read(), True, []
    except SourceIncomplete as incomplete:
        log.error("source %s was not read completely: %s", source.name, incomplete)
        return incomplete.partial, False, [str(incomplete)]

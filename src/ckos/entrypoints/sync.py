"""`cloudkeeper-os sync`: read the configured sources and converge Glance on them, once.

Exit status (fixed: timers and monitoring rely on it): 0 every source read completely and
applied; 1 something failed (what succeeded is applied; nothing is removed for a source not read
completely); 2 invalid configuration; 3 removals held back by the deletion budget (the rest
applied); 4 another sync holds the lock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loguru import logger

from ckos import bootstrap
from ckos.config import ConfigError, Settings, load
from ckos.domain.errors import CkosError
from ckos.domain.model import ImageFormat
from ckos.domain.sync import SourceReport, SyncPolicy
from ckos.entrypoints import logs
from ckos.entrypoints.sync_output import human, json_summary
from ckos.entrypoints.sync_progress import progress_display

OK, FAILED, INVALID, HELD, LOCKED = 0, 1, 2, 3, 4


def add_parser(commands: Any, default_config: Path) -> None:
    text = "read the configured sources (OCI registries, HEPiX lists) and converge Glance on them, once"
    command = commands.add_parser("sync", help=text, description=text)
    command.add_argument("--config", type=Path, default=default_config, help="TOML configuration file")
    command.add_argument("--dry-run", action="store_true", help="show the plan; touch nothing")
    command.add_argument("--json", action="store_true", help="one JSON summary on standard output")
    command.add_argument(
        "--source",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help="only these sources (--source A B, or --source A --source B)",
    )
    command.add_argument(
        "--allow-mass-removal", action="store_true", help="apply removals beyond the deletion budget"
    )


def run(arguments: argparse.Namespace) -> int:
    try:
        settings = load(arguments.config)
        names = _selected(settings, arguments.source)
    except ConfigError as error:
        print(f"cloudkeeper-os: {error}", file=sys.stderr)
        return INVALID
    with progress_display(enabled=not arguments.json and sys.stderr.isatty()) as display:
        logs.configure(settings.logging, sink=display.log_sink)
        try:
            return _sync(settings, arguments, names, display.progress)
        except ConfigError as error:
            logger.error("{}", error)
            return INVALID


def _sync(
    settings: Settings,
    arguments: argparse.Namespace,
    names: list[str],
    progress: bootstrap.TransferProgress | None,
) -> int:
    sync = settings.sync
    policy = SyncPolicy(
        formats=tuple(ImageFormat(name) for name in sync.formats),
        parallel=sync.parallel,
        max_removals=sync.max_removals,
        max_removal_fraction=sync.max_removal_fraction,
        allow_mass_removal=arguments.allow_mass_removal,
        dry_run=arguments.dry_run,
    )
    app = bootstrap.build_sync(settings, policy, progress=progress)
    sources = [source for source in app.sources if source.name in names]
    mapping = app.directory.mapping()
    for vo in {
        *(s.vo for s in sync.oci if s.name in names),
        *(s.vo for s in sync.hepix if s.vo and s.name in names),
    }:
        try:
            mapping.project_for(vo)
        except CkosError as error:
            raise ConfigError(f"sync source for VO {vo!r}: {error}") from None
    try:
        with _locked(sync.lock_file):
            if not policy.dry_run:
                for leftover in app.conversion.clean():
                    logger.info("removed {} left by an interrupted run", leftover)
            reports = [app.sync.run(source) for source in sources]
    except bootstrap.LockHeld as held:
        logger.error("{}: not syncing now", held)
        return LOCKED
    status = _status(reports)
    if arguments.json:
        print(json.dumps(json_summary(reports, dry_run=policy.dry_run)))
    else:
        print(human(reports, dry_run=policy.dry_run))
    if sync.metrics_file is not None and not policy.dry_run:
        _metrics(sync.metrics_file, reports, succeeded=status == OK)
    return status


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        with bootstrap.sync_lock(path):
            yield
    except OSError as error:
        raise ConfigError(f"sync.lock_file {path}: cannot lock: {error.strerror or error}") from None


def _selected(settings: Settings, wanted: Sequence[str]) -> list[str]:
    configured = [source.name for source in settings.sync.oci] + [
        source.name for source in settings.sync.hepix
    ]
    if not configured:
        raise ConfigError("no sync source configured: add a [[sync.oci]] or [[sync.hepix]] table")
    unknown = [name for name in wanted if name not in configured]
    if unknown:
        raise ConfigError(
            f"--source {', '.join(unknown)}: no such source (configured: {', '.join(configured)})"
        )
    return list(wanted) or configured


def _status(reports: Sequence[SourceReport]) -> int:
    if not all(report.ok for report in reports):
        return FAILED
    if any(report.removals_held for report in reports):
        return HELD
    return OK


def _metrics(path: Path, reports: Sequence[SourceReport], *, succeeded: bool) -> None:
    try:
        bootstrap.write_sync_metrics(path, reports, finished_at=time.time(), succeeded=succeeded)
    except OSError as error:
        logger.error("sync.metrics_file {}: cannot write: {}", path, error)

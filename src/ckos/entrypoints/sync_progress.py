"""Progress of the sync's transfers: bars on a terminal (rich), plain log lines otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from attrs import frozen
from loguru import logger
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ckos.bootstrap import ProgressTask, TransferProgress


@frozen
class Display:
    progress: TransferProgress
    log_sink: Callable[[str], None] | None  # where log lines go while bars are drawn (None: stderr)


class _Bar:
    def __init__(self, bars: Progress, task: TaskID) -> None:
        self._bars = bars
        self._task = task

    def advance(self, count: int) -> None:
        self._bars.advance(self._task, count)

    def finish(self, *, ok: bool) -> None:  # noqa: ARG002  (a failure is told by the log line)
        self._bars.remove_task(self._task)


class _Bars:
    def __init__(self, bars: Progress) -> None:
        self._bars = bars

    def start(self, label: str, total: int | None) -> ProgressTask:
        return _Bar(self._bars, self._bars.add_task(label, total=total))


class _Line:
    def __init__(self, label: str) -> None:
        self._label = label
        self._count = 0

    def advance(self, count: int) -> None:
        self._count += count

    def finish(self, *, ok: bool) -> None:
        logger.info("transfer {} {}: {} bytes", self._label, "done" if ok else "stopped", self._count)


class _Lines:
    def start(self, label: str, total: int | None) -> ProgressTask:
        logger.info("transfer {} started{}", label, f": {total} bytes" if total is not None else "")
        return _Line(label)


@contextmanager
def progress_display(*, enabled: bool) -> Iterator[Display]:
    """Bars on stderr when `enabled` (a terminal); log lines are printed above them meanwhile."""
    if not enabled:
        yield Display(progress=_Lines(), log_sink=None)
        return
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bars:
        yield Display(
            progress=_Bars(bars),
            log_sink=lambda line: console.print(line, end="", markup=False, highlight=False, soft_wrap=True),
        )

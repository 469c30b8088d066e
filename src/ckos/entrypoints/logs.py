"""Logging: loguru to stderr (journald-friendly), stdlib logging routed into it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from loguru import logger

from ckos.config import LoggingSettings

if TYPE_CHECKING:
    from loguru import Record

# Held at WARNING: libraries that log request details (headers, tokens) at DEBUG; and grpc, whose
# DEBUG lines come also from its finalizers during garbage collection, where handing them on to
# loguru crashed the interpreter (seen when several event loops ran in one process, as in tests).
_CHATTY = ("keystoneauth", "glanceclient", "urllib3", "httpx", "httpcore", "hpack", "grpc")


class _ToLoguru(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno

        def named(entry: Record) -> None:
            entry["name"] = record.name

        logger.patch(named).opt(exception=record.exc_info).log(level, record.getMessage())


def configure(settings: LoggingSettings, sink: TextIO | Callable[[str], None] | None = None) -> None:
    """Send every log line, ours and the libraries', to stderr (or `sink`) in the configured format."""
    logger.remove()
    target = sink or sys.stderr
    if settings.format == "json":
        logger.add(target, level=settings.level, serialize=True, backtrace=False, diagnose=False)
    else:
        logger.add(
            target,
            level=settings.level,
            format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <8} {name}: {message}",
            backtrace=False,
            diagnose=False,
        )
    logging.basicConfig(handlers=[_ToLoguru()], level=0, force=True)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)

"""What the test process itself holds and says: open files, and every log line written."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from loguru import logger

SETTLE = 3.0  # seconds allowed for closed files and sockets to be seen closed


def open_files() -> set[str]:
    """What the test process has open that is a regular file (sockets and pipes left out)."""
    found: set[str] = set()
    for fd in os.listdir("/proc/self/fd"):
        entry = f"/proc/self/fd/{fd}"
        try:
            if stat.S_ISREG(os.stat(entry).st_mode):
                found.add(os.readlink(entry))
        except OSError:  # closed meanwhile, or the listing's own descriptor
            continue
    return found


def settled(check: Callable[[], bool], timeout: float = SETTLE) -> bool:
    """Whether `check` holds now or within the timeout (closing happens on other threads)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def captured_logs(into: list[str]) -> Iterator[None]:
    """Every log line of the process meanwhile, ours and the libraries', down to DEBUG."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            into.append(f"{record.name}: {self.format(record)}")

    root = logging.getLogger()
    handler = Collect(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sink = logger.add(lambda message: into.append(str(message)), level=0, format="{message} {extra}")
    try:
        yield
    finally:
        logger.remove(sink)
        root.removeHandler(handler)
        root.setLevel(level)

"""The calls in progress, each in a worker thread under its own transfer scope.

Stopping the server lets calls finish during the grace; then grpcio cancels the calls still
running, but their worker threads go on. Interrupting their transfer scopes makes their next
read fail, so the use case deletes the image it was creating; `running` lets the daemon wait for
that before it exits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from ckos.bootstrap import TransferScope
from ckos.bootstrap import transfer_scope as scope

T = TypeVar("T")


class CallsInProgress:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[TransferScope] = set()
        self._closed = False

    def run(self, transfers: TransferScope, work: Callable[[], T]) -> T:
        """Run `work` in this (worker) thread under `transfers`; after interrupt_all, interrupted at once."""
        with self._lock:
            if self._closed:
                transfers.interrupt()
            self._running.add(transfers)
        try:
            with scope(transfers):
                return work()
        finally:
            with self._lock:
                self._running.discard(transfers)

    def interrupt_all(self) -> int:
        """Interrupt the calls running now and any started later; returns how many were running."""
        with self._lock:
            self._closed = True
            for transfers in self._running:
                transfers.interrupt()
            return len(self._running)

    def running(self) -> int:
        """How many calls are running now (their worker threads, whether or not interrupted)."""
        with self._lock:
            return len(self._running)

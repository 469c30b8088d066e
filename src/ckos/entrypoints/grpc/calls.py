"""The calls in progress, each in a worker thread under its own transfer scope.

Stopping the server lets calls finish during the grace; then grpcio cancels the calls still
running, but their worker threads go on. Interrupting their transfer scopes makes their next
read fail, so the use case deletes the image it was creating; `wait_finished` lets the daemon
see that through before it exits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from ckos.adapters.image_data.transfers import TransferScope, scope

T = TypeVar("T")


class CallsInProgress:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: set[TransferScope] = set()
        self._closed = False

    def run(self, transfers: TransferScope, work: Callable[[], T]) -> T:
        """Run `work` in this (worker) thread under `transfers`; after interrupt_all, interrupted at once."""
        with self._changed:
            if self._closed:
                transfers.interrupt()
            self._running.add(transfers)
        try:
            with scope(transfers):
                return work()
        finally:
            with self._changed:
                self._running.discard(transfers)
                self._changed.notify_all()

    def interrupt_all(self) -> int:
        """Interrupt the calls running now and any started later; returns how many were running."""
        with self._changed:
            self._closed = True
            for transfers in self._running:
                transfers.interrupt()
            return len(self._running)

    def wait_finished(self, timeout: float) -> bool:
        """Wait until no call is running; False if some still are after `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._running, timeout)

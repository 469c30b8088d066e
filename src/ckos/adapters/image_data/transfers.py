"""Every image transfer watched: counted for the metrics, and stopped when its call is interrupted.

A call runs its use case in a worker thread that blocks in the catalog's upload, which reads the
offered file chunk by chunk. Cancelling the gRPC call cannot stop that thread; the reads can.
The worker thread enters its call's `TransferScope` (a context variable, so nothing has to be
passed through the domain); once the scope is interrupted, the next read raises
TransferInterrupted, the upload fails, and the use case deletes the image it was creating.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ckos.domain.errors import TransferInterrupted
from ckos.domain.model import ImageSource
from ckos.domain.ports import ImageData, Readable


class TransferScope:
    """One call's transfers: whether they must stop, and how many bytes they read."""

    def __init__(self) -> None:
        self._interrupted = threading.Event()
        self.bytes_read = 0

    def interrupt(self) -> None:
        self._interrupted.set()

    @property
    def interrupted(self) -> bool:
        return self._interrupted.is_set()

    def check(self) -> None:
        if self.interrupted:
            raise TransferInterrupted("the image transfer was interrupted: call cancelled or daemon stopping")


_current: ContextVar[TransferScope | None] = ContextVar("ckos_transfer_scope", default=None)


@contextmanager
def scope(current: TransferScope) -> Iterator[TransferScope]:
    """Make `current` the scope of the transfers this thread (or task) opens meanwhile."""
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


class Transfers(ImageData):
    """Wraps the real ImageData; keeps totals the metrics read (in flight, bytes read)."""

    def __init__(self, inner: ImageData) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.in_flight = 0
        self.bytes_read = 0

    @contextmanager
    def open(self, source: ImageSource) -> Iterator[Readable]:
        """The inner stream, read through the current call's scope (a fresh one outside any call)."""
        current = _current.get() or TransferScope()
        current.check()
        with self._inner.open(source) as stream:
            self._add(in_flight=1)
            try:
                yield _Watched(stream, current, self._add)
            finally:
                self._add(in_flight=-1)

    def _add(self, *, in_flight: int = 0, read: int = 0) -> None:
        with self._lock:
            self.in_flight += in_flight
            self.bytes_read += read


class _Watched:
    def __init__(self, stream: Readable, current: TransferScope, add: Callable[..., None]) -> None:
        self._stream = stream
        self._scope = current
        self._add = add

    def read(self, size: int = -1, /) -> bytes:
        self._scope.check()
        chunk = self._stream.read(size)
        self._scope.bytes_read += len(chunk)
        self._add(read=len(chunk))
        return chunk

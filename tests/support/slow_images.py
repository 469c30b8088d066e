"""An image source that trickles: for holding a transfer in progress while a test acts."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from attrs import define, field

from ckos.domain.model import ImageSource
from ckos.domain.ports import ImageData, Readable


@define
class SlowImageData(ImageData):
    """Offers `size` zero bytes at every location, at most `chunk` bytes every `delay` seconds."""

    size: int
    chunk: int = 65536
    delay: float = 0.01
    started: threading.Event = field(factory=threading.Event)  # set at the first read
    open_streams: int = 0

    @property
    def checksum(self) -> str:
        return hashlib.sha512(bytes(self.size)).hexdigest()

    @contextmanager
    def open(self, source: ImageSource) -> Iterator[Readable]:
        self.open_streams += 1
        try:
            yield _Trickle(self)
        finally:
            self.open_streams -= 1


class _Trickle:
    def __init__(self, offer: SlowImageData) -> None:
        self._offer = offer
        self._left = offer.size

    def read(self, size: int = -1, /) -> bytes:
        self._offer.started.set()
        time.sleep(self._offer.delay)
        wanted = self._offer.chunk if size < 0 else min(size, self._offer.chunk)
        count = min(wanted, self._left)
        self._left -= count
        return bytes(count)

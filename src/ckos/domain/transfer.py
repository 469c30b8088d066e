"""Reading the offered file once, hashing and counting every byte on the way."""

from __future__ import annotations

import hashlib

from ckos.domain.errors import TransferMismatch
from ckos.domain.model import ImageFacts
from ckos.domain.ports import Readable


class VerifyingReader:
    """Wraps a stream; fails as soon as it yields more bytes than announced."""

    def __init__(self, stream: Readable, expected: ImageFacts, label: str) -> None:
        self._stream = stream
        self._expected = expected
        self._label = label
        self._sha512 = hashlib.sha512()
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self.count += len(chunk)
        if self.count > self._expected.size:
            raise TransferMismatch(
                f"{self._label}: size mismatch, image is larger than the announced "
                f"{self._expected.size} bytes ({self.count} read so far)"
            )
        self._sha512.update(chunk)
        return chunk

    @property
    def sha512(self) -> str:
        return self._sha512.hexdigest()

    def verify(self) -> None:
        """Raise TransferMismatch unless exactly the announced bytes were read."""
        if self.count != self._expected.size:
            raise TransferMismatch(
                f"{self._label}: size mismatch, expected {self._expected.size} bytes, read {self.count}"
            )
        if self.sha512 != self._expected.checksum:
            raise TransferMismatch(
                f"{self._label}: checksum mismatch, expected SHA-512 {self._expected.checksum}, "
                f"got {self.sha512}"
            )

"""Reading the offered file once, hashing and counting every byte on the way."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from ckos.domain import checksum
from ckos.domain.errors import TransferMismatch
from ckos.domain.model import ImageFacts
from ckos.domain.ports import Readable


class VerifyingReader:
    """Wraps a stream; fails as soon as it yields more bytes than announced.

    Each chunk is hashed (with the algorithm of the announced checksum) on a helper thread while
    the caller sends it on (hashlib lets go of the GIL), one chunk behind the reads: hashing is
    the one cost a plain upload does not have, and off the sending thread it costs the transfer
    no time while a core is free. Close it (or use it as a context manager) to let the thread go.
    """

    def __init__(self, stream: Readable, expected: ImageFacts, label: str) -> None:
        self._stream = stream
        self._expected = expected
        self._label = label
        self._hash = checksum.hasher(expected.checksum)
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="ckos-hash")
        self._hashing: Future[None] | None = None
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self.count += len(chunk)
        if self.count > self._expected.size:
            raise TransferMismatch(
                f"{self._label}: size mismatch, image is larger than the announced "
                f"{self._expected.size} bytes ({self.count} read so far)"
            )
        self._hashed()  # in order, and never more than one chunk held for hashing
        if chunk:
            self._hashing = self._hasher.submit(self._hash.update, chunk)
        return chunk

    @property
    def checksum(self) -> str:
        """The checksum of what was read so far, spelled as the announced one."""
        self._hashed()
        return checksum.spelled(self._expected.checksum, self._hash)

    def verify(self) -> None:
        """Raise TransferMismatch unless exactly the announced bytes were read."""
        if self.count != self._expected.size:
            raise TransferMismatch(
                f"{self._label}: size mismatch, expected {self._expected.size} bytes, read {self.count}"
            )
        if self.checksum != self._expected.checksum:
            raise TransferMismatch(
                f"{self._label}: checksum mismatch, expected {checksum.label(self._expected.checksum)} "
                f"{self._expected.checksum}, got {self.checksum}"
            )

    def close(self) -> None:
        """Finish hashing what was read and stop the helper thread; the digest stays readable."""
        self._hashed()
        self._hasher.shutdown(wait=True)

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _hashed(self) -> None:
        if self._hashing is not None:
            self._hashing.result()
            self._hashing = None

"""A blob's bytes as a Readable that checks them against their descriptor while they flow.

Nothing is written to disk: the reader hashes and counts on the fly. A byte beyond the announced
size fails at once; the end of the stream (an empty read) is only ever returned once the count and
the digest match, so a consumer that reads to the end never takes bad data for a whole image.
"""

from __future__ import annotations

from collections.abc import Iterator

from ckos.adapters.sources.oci_references import hasher
from ckos.domain.errors import TransferMismatch


class VerifiedBlob:
    """Joins the network's pieces into reads of the size asked, as remote.py's reader does."""

    def __init__(self, chunks: Iterator[bytes], *, digest: str, size: int, label: str) -> None:
        self._chunks = chunks
        self._digest = digest
        self._size = size
        self._label = label
        self._hash = hasher(digest)
        self._count = 0
        self._rest = b""
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        parts = [self._rest] if self._rest else []
        have = len(self._rest)
        self._rest = b""
        while not self._done and (size < 0 or have < size):
            piece = next(self._chunks, None)
            if piece is None:
                self._finish()
            elif piece:
                self._take(piece)
                parts.append(piece)
                have += len(piece)
        if 0 <= size < have:
            last = parts[-1]
            cut = len(last) - (have - size)
            parts[-1], self._rest = last[:cut], last[cut:]
        return b"".join(parts)

    def _take(self, piece: bytes) -> None:
        self._count += len(piece)
        if self._count > self._size:
            raise TransferMismatch(f"{self._label}: more bytes than the {self._size} announced")
        self._hash.update(piece)

    def _finish(self) -> None:
        if self._count != self._size:
            raise TransferMismatch(f"{self._label}: {self._count} bytes received, {self._size} announced")
        algorithm = self._digest.partition(":")[0]
        if f"{algorithm}:{self._hash.hexdigest()}" != self._digest:
            raise TransferMismatch(f"{self._label}: the bytes received do not match the digest")
        self._done = True

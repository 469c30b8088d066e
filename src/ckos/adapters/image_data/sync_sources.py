"""The sync's image data: each offer read by the source that made it, its progress reported.

`oci://<source>/...` locations go to that OCI source (its registry, its credentials), other
REMOTE ones (a HEPiX list's hv:uri) to the http(s) downloads, LOCAL ones (a converted file) to
the work directory only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol
from urllib.parse import urlsplit

from ckos.domain.errors import SourceUnavailable
from ckos.domain.model import ImageSource, TransferMode
from ckos.domain.ports import ImageData, Readable

OCI_SCHEME = "oci://"


class ProgressTask(Protocol):
    def advance(self, count: int) -> None: ...

    def finish(self, *, ok: bool) -> None: ...


class TransferProgress(Protocol):
    """Shows transfers as they go (a progress bar on a terminal, log lines otherwise)."""

    def start(self, label: str, total: int | None) -> ProgressTask: ...


class SizedImageData(ImageData, Protocol):
    def size_of(self, source: ImageSource) -> int | None:
        """The number of bytes the source will yield, when known."""
        ...


class SyncImageData(ImageData):
    def __init__(
        self,
        *,
        local: ImageData,
        remote: ImageData,
        oci: Mapping[str, SizedImageData],
        progress: TransferProgress | None = None,
    ) -> None:
        self._local = local
        self._remote = remote
        self._oci = oci  # by source name
        self._progress = progress

    @contextmanager
    def open(self, source: ImageSource) -> Iterator[Readable]:
        reader, total = self._reader(source)
        with reader.open(source) as stream:
            if self._progress is None:
                yield stream
                return
            task = self._progress.start(_label(source), total)
            ok = False
            try:
                yield _Reported(stream, task)
                ok = True
            finally:
                task.finish(ok=ok)

    def _reader(self, source: ImageSource) -> tuple[ImageData, int | None]:
        if source.mode is TransferMode.LOCAL:
            try:
                return self._local, os.stat(source.location).st_size
            except OSError:
                return self._local, None
        if source.location.startswith(OCI_SCHEME):
            name = source.location[len(OCI_SCHEME) :].partition("/")[0]
            reader = self._oci.get(name)
            if reader is None:
                raise SourceUnavailable(f"no OCI source {name!r} to read {source.location}")
            return reader, reader.size_of(source)
        return self._remote, None


class _Reported:
    def __init__(self, stream: Readable, task: ProgressTask) -> None:
        self._stream = stream
        self._task = task

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self._task.advance(len(chunk))
        return chunk


def _label(source: ImageSource) -> str:
    """A short name for the transfer: never a URL's credentials; digests cut to 12 digits."""
    if source.location.startswith(OCI_SCHEME):
        name, _, digest = source.location[len(OCI_SCHEME) :].partition("/")[2].partition("@sha256:")
        return f"{name}@{digest[:12]}"
    if source.mode is TransferMode.LOCAL:
        return os.path.basename(source.location)
    parts = urlsplit(source.location)
    return f"{parts.hostname or ''}{parts.path}"

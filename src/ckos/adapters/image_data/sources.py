"""Both transfer modes behind one ImageData: each source goes to the reader of its mode."""

from __future__ import annotations

from contextlib import AbstractContextManager

from ckos.domain.model import ImageSource, TransferMode
from ckos.domain.ports import ImageData, Readable


class ImageSources(ImageData):
    """Opens LOCAL sources with `local` and REMOTE ones with `remote`."""

    def __init__(self, *, local: ImageData, remote: ImageData) -> None:
        self._readers = {TransferMode.LOCAL: local, TransferMode.REMOTE: remote}

    def open(self, source: ImageSource) -> AbstractContextManager[Readable]:
        """The stream of the source, opened by the reader of its transfer mode."""
        return self._readers[source.mode].open(source)

"""LOCAL transfers: the core's file on a shared disk, read only inside the allowed directories."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ckos.domain.errors import SourceForbidden, SourceUnavailable
from ckos.domain.model import ImageSource, TransferMode
from ckos.domain.ports import ImageData, Readable

_BUFFER = 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a FIFO never hangs us


class LocalImageFiles(ImageData):
    """Opens local image files; anything outside the allowed directories is refused unread."""

    def __init__(self, allowed_directories: Iterable[Path]) -> None:
        self._allowed = tuple(allowed_directories)  # empty: nothing may be read

    @contextmanager
    def open(self, source: ImageSource) -> Iterator[Readable]:
        """The file's bytes; SourceForbidden outside the allowed directories, else SourceUnavailable."""
        if source.mode is not TransferMode.LOCAL:
            raise SourceUnavailable("only LOCAL image transfers are served: REMOTE downloads are not enabled")
        location = source.location
        try:
            real = os.path.realpath(location)  # symlinks and ".." resolved before the check
        except ValueError:
            raise SourceUnavailable(f"image location {location!r} is not a valid path") from None
        if not os.path.isabs(location) or not self._allows(real):
            raise SourceForbidden(f"image file {location} is not inside the allowed image directories")
        with _open_checked(location, real, self._allows) as file:
            yield _FileReader(file, location)

    def _allows(self, real: str) -> bool:
        return any(Path(real).is_relative_to(os.path.realpath(directory)) for directory in self._allowed)


@contextmanager
def _open_checked(location: str, real: str, allows: Callable[[str], bool]) -> Iterator[BinaryIO]:
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except FileNotFoundError:
        raise SourceUnavailable(f"image file {location} does not exist") from None
    except OSError as error:
        raise SourceUnavailable(f"image file {location} cannot be opened: {error.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceUnavailable(f"image file {location} is not a regular file")
        # A directory on the way may have been swapped for a symlink since the check: look again
        # at what was actually opened.
        opened = f"/proc/self/fd/{fd}"
        if os.path.exists(opened) and not allows(os.path.realpath(opened)):
            raise SourceForbidden(f"image file {location} moved outside the allowed directories")
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "rb", buffering=_BUFFER) as file:
        yield file


class _FileReader:
    """A file as a Readable whose read errors are the domain's."""

    def __init__(self, file: BinaryIO, location: str) -> None:
        self._file = file
        self._location = location

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._file.read(size)
        except OSError as error:
            raise SourceUnavailable(f"image file {self._location} cannot be read: {error.strerror}") from None

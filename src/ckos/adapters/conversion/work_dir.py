"""The files a conversion writes in the work directory, and the leftovers of a killed process.

One conversion is a run. Its files share a stem, `ckos-<key>.<token>`: the key names the image by
its checksum (content-addressed, for whoever looks into the directory), the random token keeps
two runs of the same image apart. Every file is created exclusively, mode 0600, never through a
symlink. A run holds an flock on its `.lock` file until its other files are gone, so `clean`
can tell a live run (locked) from the leftovers of a killed one (the kernel dropped the lock),
and it never touches a name outside the scheme.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ckos.domain.errors import ConversionFailed

_OURS = re.compile(
    r"(?P<stem>ckos-(?:sha512-[0-9a-f]{128}|sha256-[0-9a-f]{64}|other-[0-9a-f]{64})\.[0-9a-f]{16})"
    r"\.(?:lock|download|raw|qcow2|vmdk|vdi)(?:\.part)?"
)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def key(checksum: str) -> str:
    """A file-name-safe name of the image's checksum (SHA-512 hex, or "sha256:<hex>")."""
    if re.fullmatch(r"[0-9a-f]{128}", checksum):
        return f"sha512-{checksum}"
    if re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
        return f"sha256-{checksum[7:]}"
    return f"other-{hashlib.sha256(checksum.encode()).hexdigest()}"


class Run:
    """The files of one conversion: `path(suffix)` names one, `create(suffix)` makes it."""

    def __init__(self, directory: Path, stem: str) -> None:
        self.directory = directory
        self.stem = stem

    def path(self, suffix: str) -> Path:
        return self.directory / f"{self.stem}.{suffix}"

    def create(self, suffix: str) -> BinaryIO:
        """A new file of the run, opened for writing; never an existing one."""
        return open(os.open(self.path(suffix), _CREATE, 0o600), "wb")

    def remove(self, suffix: str) -> None:
        self.path(suffix).unlink(missing_ok=True)

    def files(self) -> list[Path]:
        prefix = f"{self.stem}."
        return sorted(self.directory / name for name in os.listdir(self.directory) if name.startswith(prefix))


class WorkDir:
    """The directory conversions write into; it belongs to this ckos process alone."""

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()  # what it yields is read back by absolute path only

    @contextmanager
    def run(self, checksum: str) -> Iterator[Run]:
        """A new run for the image; every file it made is removed on exit, whatever happens."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        current = Run(self.path, f"ckos-{key(checksum)}.{secrets.token_hex(8)}")
        with current.create("lock") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not _same_file(current.path("lock"), lock.fileno()):
                    raise ConversionFailed(f"{current.path('lock')} was removed before it was locked")
                yield current
            finally:
                for path in current.files():
                    if path != current.path("lock"):
                        path.unlink(missing_ok=True)
                current.remove("lock")

    def clean(self) -> list[Path]:
        """Remove the files of runs no process holds any more; return what was removed."""
        if not self.path.is_dir():
            return []
        stems = set()
        for entry in os.scandir(self.path):
            matched = _OURS.fullmatch(entry.name)
            if matched and entry.is_file(follow_symlinks=False):
                stems.add(matched["stem"])
        removed: list[Path] = []
        for stem in sorted(stems):
            removed += _remove_dead(Run(self.path, stem))
        return removed


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _remove_dead(leftover: Run) -> list[Path]:
    try:
        lock = os.open(leftover.path("lock"), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        lock = None  # killed while its files were being removed: the lock goes last
    try:
        if lock is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []  # a live run
        ours = [path for path in leftover.files() if _OURS.fullmatch(path.name) and not path.is_symlink()]
        ours.sort(key=lambda path: path.suffix == ".lock")  # the lock last
        for path in ours:
            path.unlink(missing_ok=True)
        return ours
    finally:
        if lock is not None:
            os.close(lock)

"""LOCAL image files: read only inside the allowed directories, always closed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ckos.adapters.image_data.local import LocalImageFiles
from ckos.domain.errors import SourceForbidden, SourceUnavailable
from ckos.domain.model import ImageSource, TransferMode

CONTENT = bytes(range(256)) * 1000


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    directory = tmp_path / "spool"
    directory.mkdir()
    (directory / "image.qcow2").write_bytes(CONTENT)
    return directory


def local(path: Path | str) -> ImageSource:
    return ImageSource(mode=TransferMode.LOCAL, location=str(path))


def read_all(files: LocalImageFiles, source: ImageSource) -> bytes:
    chunks = []
    with files.open(source) as stream:
        while chunk := stream.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def opening(files: LocalImageFiles, source: ImageSource) -> None:
    with files.open(source):
        pass


def failing_upload(files: LocalImageFiles, source: ImageSource) -> None:
    with files.open(source) as stream:
        stream.read(10)
        raise RuntimeError("the upload failed")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_file_inside_an_allowed_directory_is_read_whole(spool: Path) -> None:
    files = LocalImageFiles([spool])
    assert read_all(files, local(spool / "image.qcow2")) == CONTENT


def test_a_symlinked_allowed_directory_is_resolved_too(spool: Path, tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(spool)
    assert read_all(LocalImageFiles([tmp_path / "link"]), local(spool / "image.qcow2")) == CONTENT
    assert read_all(LocalImageFiles([spool]), local(tmp_path / "link" / "image.qcow2")) == CONTENT


def test_the_file_is_closed_after_use_and_after_an_error(spool: Path) -> None:
    files = LocalImageFiles([spool])
    before = open_fds()
    read_all(files, local(spool / "image.qcow2"))
    assert open_fds() == before
    with pytest.raises(RuntimeError):
        failing_upload(files, local(spool / "image.qcow2"))
    assert open_fds() == before


def test_a_file_outside_the_allowed_directories_is_forbidden(spool: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"private key")
    files = LocalImageFiles([spool])
    for location in (secret, spool / ".." / "secret", "/etc/passwd"):
        with pytest.raises(SourceForbidden, match="not inside the allowed image directories"):
            opening(files, local(location))


def test_a_symlink_escaping_the_allowed_directory_is_forbidden(spool: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"private key")
    (spool / "escape.qcow2").symlink_to(secret)
    (spool / "dir").symlink_to(tmp_path)
    files = LocalImageFiles([spool])
    for location in (spool / "escape.qcow2", spool / "dir" / "secret"):
        with pytest.raises(SourceForbidden):
            opening(files, local(location))


def test_a_symlink_staying_inside_is_followed(spool: Path) -> None:
    (spool / "latest.qcow2").symlink_to(spool / "image.qcow2")
    assert read_all(LocalImageFiles([spool]), local(spool / "latest.qcow2")) == CONTENT


def test_a_sibling_directory_sharing_the_prefix_is_not_inside(tmp_path: Path, spool: Path) -> None:
    sibling = tmp_path / "spool-other"
    sibling.mkdir()
    (sibling / "image.qcow2").write_bytes(CONTENT)
    with pytest.raises(SourceForbidden):
        opening(LocalImageFiles([spool]), local(sibling / "image.qcow2"))


def test_nothing_is_allowed_without_directories(spool: Path) -> None:
    with pytest.raises(SourceForbidden):
        opening(LocalImageFiles([]), local(spool / "image.qcow2"))


def test_a_relative_location_is_forbidden(spool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(spool)
    with pytest.raises(SourceForbidden):
        opening(LocalImageFiles([spool]), local("image.qcow2"))


def test_a_missing_file_is_unavailable(spool: Path) -> None:
    with pytest.raises(SourceUnavailable, match="does not exist"):
        opening(LocalImageFiles([spool]), local(spool / "gone.qcow2"))


def test_a_directory_or_fifo_is_not_an_image(spool: Path) -> None:
    (spool / "sub").mkdir()
    os.mkfifo(spool / "pipe")
    files = LocalImageFiles([spool])
    for location in (spool / "sub", spool / "pipe"):  # a FIFO must not block the call either
        with pytest.raises(SourceUnavailable, match="not a regular file"):
            opening(files, local(location))


def test_an_unreadable_file_is_unavailable(spool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root reads a file of mode 000 all the same, so the refusal is the kernel's, simulated.
    def refuse(path: str, flags: int, mode: int = 0o777) -> int:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(SourceUnavailable, match="cannot be opened"):
        opening(LocalImageFiles([spool]), local(spool / "image.qcow2"))


def test_remote_sources_are_not_served_here(spool: Path) -> None:
    remote = ImageSource(mode=TransferMode.REMOTE, location="http://127.0.0.1/image.qcow2")
    with pytest.raises(SourceUnavailable, match="REMOTE"):
        opening(LocalImageFiles([spool]), remote)


def test_a_directory_swapped_for_a_symlink_after_the_check_is_caught(
    spool: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (spool / "sub").mkdir()
    (spool / "sub" / "image.qcow2").write_bytes(CONTENT)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "image.qcow2").write_bytes(b"not for Glance")
    real_open = os.open

    def swapping_open(path: str, flags: int, *args: int) -> int:
        # The race: between the path check and the open, a directory becomes a symlink.
        (spool / "sub").rename(spool / "was-sub")
        (spool / "sub").symlink_to(outside)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", swapping_open)
    with pytest.raises(SourceForbidden, match="moved outside"):
        opening(LocalImageFiles([spool]), local(spool / "sub" / "image.qcow2"))

"""Small disk images made with the real qemu-img, for the conversion tests (package qemu-utils)."""

from __future__ import annotations

import io
import random
import struct
import subprocess
import tarfile
from pathlib import Path

from attrs import define

MIB = 1024 * 1024
# Data, a hole (sparse in qcow2 and in the raw output) and data again: the round trip must keep all.
CONTENT = random.Random(7).randbytes(MIB) + bytes(MIB) + b"ckos" * (MIB // 8)
OVF = b'<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>'


def qemu_img(*args: str | Path) -> None:
    subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True)


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@define
class DiskImages:
    """Makes images in `directory` (which it creates)."""

    directory: Path

    def __attrs_post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def raw(self, name: str = "disk.raw", content: bytes = CONTENT) -> Path:
        path = self.directory / name
        path.write_bytes(content)
        return path

    def made(self, name: str, image_format: str, content: bytes = CONTENT, *options: str) -> Path:
        """`content` as an image of the format, converted by qemu-img from a raw file."""
        raw = self.raw(f"{name}.source", content)
        path = self.directory / name
        qemu_img("convert", "-f", "raw", "-O", image_format, *options, raw, path)
        raw.unlink()
        return path

    def with_backing_file(self, name: str = "overlay.qcow2") -> Path:
        base = self.made("base.qcow2", "qcow2")
        path = self.directory / name
        qemu_img("create", "-f", "qcow2", "-b", base, "-F", "qcow2", path)
        return path

    def with_data_file(self, name: str = "external.qcow2") -> Path:
        path = self.directory / name
        qemu_img("create", "-f", "qcow2", "-o", f"data_file={self.directory / 'outside.raw'}", path, "1M")
        return path

    def empty(self, name: str, size: str) -> Path:
        path = self.directory / name
        qemu_img("create", "-f", "qcow2", path, size)
        return path

    def with_broken_l1_table(self, name: str = "corrupt.qcow2") -> Path:
        """A qcow2 whose header is sound but whose first L1 entry points at an unaligned L2 table."""
        path = self.made(name, "qcow2")
        with path.open("r+b") as file:
            file.seek(40)  # l1_table_offset, big-endian
            (l1_table,) = struct.unpack(">Q", file.read(8))
            file.seek(l1_table)
            file.write(struct.pack(">Q", (1 << 63) | 0x12200))
        return path

    def script(self, name: str, body: str) -> Path:
        """An executable shell script standing in for qemu-img."""
        path = self.directory / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
        return path


def ova(*members: tuple[str, bytes]) -> bytes:
    """A plain tar of the members, in order, as an OVA is."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()

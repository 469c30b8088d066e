"""What the first bytes of a disk image say its format is, read before qemu-img ever sees it.

qemu-img trusts the format it is told (`-f`), so the claim is checked first against the file's
own signature, as Glance does with its format inspector: a file claimed raw that carries a qcow2
header could name a backing file, and a raw image converted from a hostile qcow2 could itself be
a qcow2 header. Only the signatures of formats qemu-img would treat as non-raw are listed; every
other file (ISO, GPT, a bare file system) counts as raw.
"""

from __future__ import annotations

from pathlib import Path

_HEAD = 512
_SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("qcow2", 0, b"QFI\xfb"),
    ("qed", 0, b"QED\x00"),
    ("vmdk", 0, b"KDMV"),  # a sparse extent: monolithicSparse, streamOptimized
    ("vmdk descriptor", 0, b"# Disk DescriptorFile"),  # names other files: never read
    ("vmdk COWD", 0, b"COWD"),
    ("vdi", 0x40, b"\x7f\x10\xda\xbe"),
    ("vhdx", 0, b"vhdxfile"),
    ("vpc", 0, b"conectix"),
    ("luks", 0, b"LUKS\xba\xbe"),
)


def detected_format(path: Path) -> str:
    """The qemu-img name of the format the file's signature shows, "raw" when none does."""
    with path.open("rb") as file:
        head = file.read(_HEAD)
    for name, offset, magic in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return name
    return "raw"

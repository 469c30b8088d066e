"""The disk inside an OVA, read straight from the download: the tar is never written nor extracted.

An OVA is a plain tar of an OVF descriptor and its disks. Read in stream mode (`r|`), the tar is
parsed as its bytes arrive, and the first VMDK member is copied into a file of our own naming,
so no path from the archive ever reaches the file system.
"""

from __future__ import annotations

import shutil
import tarfile
from typing import IO, BinaryIO, cast

from ckos.domain.errors import ConversionFailed
from ckos.domain.ports import Readable

_CHUNK = 1024 * 1024


def copy_first_disk(stream: Readable, into: BinaryIO, label: str) -> None:
    """Copy the OVA's first VMDK into `into`; the stream is left where the disk ends.

    Raises ConversionFailed when the stream is no tar or holds no VMDK; errors of the stream
    itself pass through unchanged.
    """
    try:
        # Stream mode only ever calls read(): the cast names no capability that is used.
        with tarfile.open(fileobj=cast(IO[bytes], stream), mode="r|", bufsize=_CHUNK) as archive:
            for member in archive:
                if member.isreg() and member.name.lower().endswith(".vmdk"):
                    disk = archive.extractfile(member)
                    if disk is None:  # pragma: no cover - isreg() members always have data
                        break
                    shutil.copyfileobj(disk, into, _CHUNK)
                    return
    except tarfile.TarError as error:
        raise ConversionFailed(f"{label}: not a readable OVA ({error})") from None
    raise ConversionFailed(f"{label}: the OVA holds no VMDK disk")

"""The Conversion port with qemu-img: download once (verified), convert once, hand over the file.

A 1 GiB image is written once (the download, hashed on the way by the VerifyingReader), read
once by qemu-img, its output read once to hash it, and once more by the caller's upload. An OVA
is never written whole: its disk is unpacked from the download stream (see ova.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from attrs import evolve

from ckos.adapters.conversion.ova import copy_first_disk
from ckos.adapters.conversion.qemu_img import MAX_VIRTUAL_SIZE, QEMU_FORMATS, QemuImg
from ckos.adapters.conversion.work_dir import Run, WorkDir
from ckos.domain import checksum
from ckos.domain.errors import ConversionFailed
from ckos.domain.model import ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.domain.ports import Conversion, ImageData, Readable
from ckos.domain.snapshot import Offer
from ckos.domain.transfer import VerifyingReader

_CHUNK = 1024 * 1024


class QemuConversion(Conversion):
    """Converts offered images in `work_dir`, a directory this process alone writes into.

    The work directory must be one of the directories the sync's ImageData reads LOCAL files
    from: the converted offer points there.
    """

    def __init__(
        self,
        work_dir: Path,
        image_data: ImageData,
        *,
        qemu_img: str = "qemu-img",
        timeout: float = 3600.0,
        max_virtual_size: int = MAX_VIRTUAL_SIZE,
    ) -> None:
        self._work = WorkDir(work_dir)
        self._image_data = image_data
        self._qemu = QemuImg(qemu_img, timeout=timeout, max_virtual_size=max_virtual_size)

    def clean(self) -> list[Path]:
        """Remove what killed runs left in the work directory (our names only); return it."""
        return self._work.clean()

    @contextmanager
    def converted(self, offer: Offer, target: ImageFormat) -> Iterator[Offer]:
        """The offer with its image as a verified, inspected `target` file, for the block."""
        facts = offer.appliance.image
        label = f"image of appliance {offer.appliance.identifier}"
        if facts is None:
            raise ConversionFailed(f"appliance {offer.appliance.identifier}: no image to convert")
        if checksum.algorithm(facts.checksum) is None:
            raise ConversionFailed(f"{label}: {facts.checksum!r} is no checksum to verify it against")
        with ExitStack() as files:
            try:
                run = files.enter_context(self._work.run(facts.checksum))
                result = self._prepared(offer, facts, target, run, label)
            except OSError as error:  # the work directory's own: full, unwritable
                raise ConversionFailed(f"{label}: work directory {self._work.path}: {error}") from error
            yield result

    def _prepared(self, offer: Offer, facts: ImageFacts, target: ImageFormat, run: Run, label: str) -> Offer:
        source_format = ImageFormat.VMDK if facts.format is ImageFormat.OVA else facts.format
        if facts.format is not target and not {source_format, target} <= QEMU_FORMATS.keys():
            raise ConversionFailed(f"{label}: cannot convert {facts.format.value} to {target.value}")
        download = run.path("download")
        with self._image_data.open(offer.source) as stream, VerifyingReader(stream, facts, label) as reader:
            with run.create("download") as file:
                try:
                    if facts.format is ImageFormat.OVA:
                        copy_first_disk(reader, file, label)
                    else:
                        shutil.copyfileobj(reader, file, _CHUNK)
                except ConversionFailed:
                    _drain(reader)
                    reader.verify()  # bytes that are not what was offered: say that instead
                    raise
            _drain(reader)  # what follows the disk of an OVA counts for the checksum too
            reader.verify()
        if facts.format is target:
            if target in QEMU_FORMATS:
                self._qemu.inspect(download, target)
            return evolve(offer, source=_local(download))  # the verified bytes, as offered
        if source_format is target:  # the disk of an OVA is what is wanted
            self._qemu.inspect(download, target)
            output = download
        else:
            output = run.path(target.value)
            self._qemu.convert(download, source_format, output, target)
            run.remove("download")  # before the upload: the disk holds one copy, not two
        with output.open("rb") as file:
            sha512 = hashlib.file_digest(file, "sha512").hexdigest()
            size = os.fstat(file.fileno()).st_size
        image = ImageFacts(uri=facts.uri, checksum=sha512, size=size, format=target, digest=facts.digest)
        return Offer(appliance=evolve(offer.appliance, image=image), source=_local(output))


def _drain(stream: Readable) -> None:
    while stream.read(_CHUNK):
        pass


def _local(path: Path) -> ImageSource:
    return ImageSource(mode=TransferMode.LOCAL, location=str(path))

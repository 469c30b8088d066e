"""The qemu-img command line, typed: inspecting an image before trusting it, and converting it.

The safety model is Glance's (image_conversion plugin): the claimed format must be the one the
file's signature shows; `qemu-img info` runs with an explicit `-f` under memory and CPU limits;
an image naming any other file (backing file, qcow2 data file, VMDK extents) is refused; so is a
virtual size above the bound, or above the free space when the output is raw; and the output of
a conversion is inspected again before it is used. qemu-img runs without a shell, with stdin
closed, a timeout, and its output read into bounded buffers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any

from attrs import frozen

from ckos.adapters.conversion.signatures import detected_format
from ckos.domain.errors import ConversionFailed
from ckos.domain.model import ImageFormat

QEMU_FORMATS = {
    ImageFormat.RAW: "raw",
    ImageFormat.QCOW2: "qcow2",
    ImageFormat.VMDK: "vmdk",
    ImageFormat.VDI: "vdi",
}
MAX_VIRTUAL_SIZE = 1 << 40  # 1 TiB: EGI images are a few GiB; a bigger one is a mistake or an attack
_VMDK_TYPES = frozenset({"monolithicSparse", "streamOptimized"})  # one file, no descriptor
# Glance's limits for `qemu-img info`: a crafted header cannot make it eat the host.
_INFO_LIMITS = ("prlimit", f"--as={1 << 30}", "--cpu=30", "--")
_INFO_TIMEOUT = 120.0
_MAX_OUTPUT = 1 << 20
_MAX_MESSAGE = 500


@frozen
class ImageInfo:
    """What `qemu-img info` says of an image that passed every check."""

    format: ImageFormat
    virtual_size: int


class QemuImg:
    """Runs qemu-img; every refusal and failure is a ConversionFailed naming the file."""

    def __init__(
        self,
        executable: str = "qemu-img",
        *,
        timeout: float = 3600.0,
        max_virtual_size: int = MAX_VIRTUAL_SIZE,
        limits: bool = True,  # run `qemu-img info` under prlimit (util-linux)
    ) -> None:
        self._executable = executable
        self._timeout = timeout
        self._max_virtual_size = max_virtual_size
        self._limits = _INFO_LIMITS if limits else ()

    def inspect(self, path: Path, claimed: ImageFormat) -> ImageInfo:
        """The image's facts, once it shows itself safe to hand to qemu-img as `claimed`."""
        name = _qemu_name(claimed)
        found = detected_format(path)
        if found != name:
            raise ConversionFailed(f"{path.name}: claimed {name}, but its signature says {found}")
        command = [*self._limits, self._executable, "info", "-f", name, "--output=json", str(path)]
        output = self._run(command, f"inspecting {path.name}", min(self._timeout, _INFO_TIMEOUT))
        try:
            info = json.loads(output)
        except ValueError:
            raise ConversionFailed(f"inspecting {path.name}: qemu-img info printed no JSON") from None
        if not isinstance(info, dict):
            raise ConversionFailed(f"inspecting {path.name}: qemu-img info printed no JSON object")
        return ImageInfo(claimed, self._checked(path, name, info))

    def convert(
        self, source: Path, source_format: ImageFormat, target: Path, target_format: ImageFormat
    ) -> ImageInfo:
        """Convert `source` into a new file `target`, inspecting both; nothing is left on failure."""
        command = [
            self._executable,
            "convert",
            "-f",
            _qemu_name(source_format),
            "-O",
            _qemu_name(target_format),
        ]
        info = self.inspect(source, source_format)
        if target_format is ImageFormat.RAW:
            free = shutil.disk_usage(target.parent).free
            if info.virtual_size > free:
                raise ConversionFailed(
                    f"{source.name}: a raw image of {info.virtual_size} bytes does not fit the "
                    f"{free} bytes free in the work directory"
                )
        part = target.with_name(f"{target.name}.part")
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        try:
            self._run([*command, str(source), str(part)], f"converting {source.name}", self._timeout)
            converted = self.inspect(part, target_format)
            part.replace(target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return converted

    def _checked(self, path: Path, name: str, info: dict[str, Any]) -> int:
        """The virtual size, once nothing in the report makes the image unsafe."""
        label = path.name
        if info.get("format") != name:
            raise ConversionFailed(f"{label}: claimed {name}, but qemu-img reads {info.get('format')!r}")
        if "backing-filename" in info or "full-backing-filename" in info:
            raise ConversionFailed(f"{label}: refused, it names a backing file")
        if info.get("encrypted"):
            raise ConversionFailed(f"{label}: refused, it is encrypted")
        specific = (info.get("format-specific") or {}).get("data") or {}
        if "data-file" in specific:
            raise ConversionFailed(f"{label}: refused, its qcow2 data is in an external data file")
        if specific.get("corrupt"):
            raise ConversionFailed(f"{label}: refused, qemu-img marks it corrupt")
        if name == "vmdk":
            if specific.get("create-type") not in _VMDK_TYPES:
                raise ConversionFailed(f"{label}: refused, VMDK type {specific.get('create-type')!r}")
            if any(extent.get("filename") != str(path) for extent in specific.get("extents") or ()):
                raise ConversionFailed(f"{label}: refused, its VMDK extents name other files")
        size = info.get("virtual-size")
        if not isinstance(size, int) or size < 0:
            raise ConversionFailed(f"{label}: qemu-img reports no virtual size")
        if size > self._max_virtual_size:
            raise ConversionFailed(
                f"{label}: refused, virtual size {size} bytes is above the bound of "
                f"{self._max_virtual_size} bytes"
            )
        return size

    def _run(self, command: list[str], doing: str, timeout: float) -> str:
        env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
        for program in {command[0], self._executable}:  # prlimit would only exit 127
            if shutil.which(program, path=env["PATH"]) is None:
                package = "qemu-utils" if program == self._executable else "util-linux"
                raise ConversionFailed(f"{doing}: cannot find {program}; is {package} installed?")
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                done = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=env,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ConversionFailed(f"{doing}: qemu-img timed out after {timeout:g} s") from None
            except OSError as error:
                raise ConversionFailed(f"{doing}: cannot run {command[0]}: {error.strerror}") from None
            output, errors = _head(out), _head(err)
        if done.returncode != 0:
            message = " ".join(errors.split())
            if len(message) > _MAX_MESSAGE:
                message = message[:_MAX_MESSAGE] + "..."
            raise ConversionFailed(f"{doing}: qemu-img failed (exit {done.returncode}): {message}")
        return output


def _qemu_name(image_format: ImageFormat) -> str:
    try:
        return QEMU_FORMATS[image_format]
    except KeyError:
        raise ConversionFailed(f"qemu-img does not convert {image_format.value} images here") from None


def _head(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read(_MAX_OUTPUT).decode("utf-8", "replace")

"""Small fakes of the domain's non-catalog ports, for tests of every layer."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from attrs import define, field

from ckos.domain.errors import CkosError, SourceUnavailable
from ckos.domain.mapping import VOMapping
from ckos.domain.model import ImageSource, ProjectRef
from ckos.domain.ports import Clock, ImageData, Readable, VODirectory


@define
class ManualClock(Clock):
    value: int = 1_800_000_000

    def now(self) -> int:
        return self.value


@define
class StaticDirectory(VODirectory):
    current: VOMapping

    @classmethod
    def of(cls, **projects: str) -> StaticDirectory:
        """VO names with dots written with underscores: fedcloud_egi_eu="fedcloud"."""
        return cls(
            VOMapping(
                {
                    vo.replace("_", "."): ProjectRef(name=name, domain="default")
                    for vo, name in projects.items()
                }
            )
        )

    def mapping(self) -> VOMapping:
        return self.current


class _Breaking(io.BytesIO):
    """Yields the first `after` bytes, then fails like a dropped connection."""

    def __init__(self, data: bytes, after: int) -> None:
        super().__init__(data)
        self._after = after

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() >= self._after:
            raise SourceUnavailable("image source: connection lost mid-stream")
        return super().read(min(self._after - self.tell(), size if size and size > 0 else self._after))


@define
class MemoryImageData(ImageData):
    """Offered files by location; records which streams are still open."""

    files: dict[str, bytes] = field(factory=dict)
    break_after: dict[str, int] = field(factory=dict)
    refuse: dict[str, CkosError] = field(factory=dict)
    open_streams: int = 0
    opened: list[str] = field(factory=list)

    @contextmanager
    def open(self, source: ImageSource) -> Iterator[Readable]:
        if source.location in self.refuse:
            raise self.refuse[source.location]
        if source.location not in self.files:
            raise SourceUnavailable(f"image source: no file at {source.location}")
        data = self.files[source.location]
        after = self.break_after.get(source.location)
        stream = _Breaking(data, after) if after is not None else io.BytesIO(data)
        self.open_streams += 1
        self.opened.append(source.location)
        try:
            yield stream
        finally:
            self.open_streams -= 1

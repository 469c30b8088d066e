"""What every use case works with: the ports, the policy, and the shared locks."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from attrs import define, field, frozen

from ckos.domain.ports import Clock, ImageCatalog, ImageData, VODirectory


@frozen
class LifecyclePolicy:
    retire_grace: int = 0  # seconds a retired image is kept before collection may delete it
    stale_upload_after: int = 86400  # seconds before an unfinished image of ours is collected


@define
class ApplianceLocks:
    """Serialises the calls for one appliance; calls for different ones run concurrently."""

    _guard: threading.Lock = field(factory=threading.Lock)
    _locks: defaultdict[str, threading.Lock] = field(factory=lambda: defaultdict(threading.Lock))

    @contextmanager
    def hold(self, identifier: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks[identifier]
        with lock:
            yield


@define
class InFlight:
    """Images this process is creating right now, which collection must not touch."""

    _guard: threading.Lock = field(factory=threading.Lock)
    _ids: set[str] = field(factory=set)

    @contextmanager
    def track(self, image_id: str) -> Iterator[None]:
        with self._guard:
            self._ids.add(image_id)
        try:
            yield
        finally:
            with self._guard:
                self._ids.discard(image_id)

    def __contains__(self, image_id: object) -> bool:
        with self._guard:
            return image_id in self._ids


@frozen
class Context:
    catalog: ImageCatalog
    image_data: ImageData
    directory: VODirectory
    clock: Clock
    policy: LifecyclePolicy = LifecyclePolicy()
    locks: ApplianceLocks = field(factory=ApplianceLocks)
    in_flight: InFlight = field(factory=InFlight)

"""The wall clock, as the domain's Clock port."""

import time

from ckos.domain.ports import Clock


class SystemClock(Clock):
    def now(self) -> int:
        return int(time.time())

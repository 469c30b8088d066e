"""How a layout tells the core how a call ended.

The core 2.0 (and the 2019 file) read gRPC status codes (status.py). The core 1.x reads
trailing metadata instead: every call ends with gRPC OK, `status` (SUCCESS or an ERROR_* name,
status_names.py) and, on failure, `message`. A failed stream then ends OK with no item.
"""

from __future__ import annotations

from typing import Any, NoReturn, Protocol

import grpc

from ckos.entrypoints.grpc.status import status_of
from ckos.entrypoints.grpc.status_names import SUCCESS, status_name_of

Context = grpc.aio.ServicerContext[Any, Any]


class Reported(Exception):
    """The failure is in the trailing metadata already: the call answers OK, with no item."""


class Outcomes(Protocol):
    def succeeded(self, context: Context) -> None:
        """Mark a call that succeeded (before its answer is sent)."""

    async def failed(self, context: Context, error: BaseException, details: str) -> NoReturn:
        """End the call as failed with `error`; `details` is what the core is told."""


class StatusCodes:
    """gRPC status codes: OK, or the code of the error with `details`."""

    def succeeded(self, context: Context) -> None:
        pass

    async def failed(self, context: Context, error: BaseException, details: str) -> NoReturn:
        await context.abort(status_of(error), details)


class TrailingStatus:
    """The core 1.x's trailing metadata `status` and `message`, under gRPC OK."""

    def succeeded(self, context: Context) -> None:
        context.set_trailing_metadata((("status", SUCCESS),))

    async def failed(self, context: Context, error: BaseException, details: str) -> NoReturn:
        context.set_trailing_metadata((("status", status_name_of(error)), ("message", details)))
        raise Reported(details)


STATUS_CODES = StatusCodes()
TRAILING_STATUS = TrailingStatus()

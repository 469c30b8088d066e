"""One Communicator call: check the client, run the blocking use case in a thread, log once.

Every call is logged on one line (rpc, appliance, list, VO, outcome, duration), and every
failure becomes a status code from status.py: never a bare UNKNOWN.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from loguru import logger

from ckos.entrypoints.grpc.peers import ClientSubjects, subject_of
from ckos.entrypoints.grpc.status import status_of

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]

# Request fields are echoed into logs and status details: a huge one must not make the reply
# itself too large (grpcio would answer RESOURCE_EXHAUSTED) nor flood the log.
FIELD_LIMIT = 200
DETAILS_LIMIT = 2000


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


async def run(
    context: Context, rpc: str, about: dict[str, str], call: Callable[[], T], subjects: ClientSubjects
) -> T:
    """Run the blocking call in a thread, log it once, and turn any failure into a status code."""
    started = time.monotonic()
    about = {key: clip(value, FIELD_LIMIT) for key, value in about.items()}
    subject = ", ".join(f"{key} {value!r}" for key, value in about.items() if value)
    where = f"{rpc} ({subject})" if subject else rpc
    log = logger.bind(rpc=rpc, **about)
    peer = context.auth_context()
    if not subjects.admits(peer):
        log.bind(outcome="PERMISSION_DENIED").warning("{} refused: client {}", where, subject_of(peer))
        await context.abort(
            grpc.StatusCode.PERMISSION_DENIED, f"{where}: client {subject_of(peer)} is not allowed"
        )
    try:
        result = await asyncio.to_thread(call)
    except Exception as error:
        code = status_of(error)
        duration = time.monotonic() - started
        log = log.bind(outcome=code.name, duration=round(duration, 3))
        if code is grpc.StatusCode.INTERNAL:
            # A bug, not a condition of the world: keep the traceback, tell the core little.
            log.opt(exception=error).error("{} -> INTERNAL in {:.3f}s", where, duration)
            details = f"{where}: internal error ({type(error).__name__}); see the backend log"
        else:
            # loguru formats with {}, which ruff's logging check does not know.
            details = clip(f"{where}: {error}", DETAILS_LIMIT)
            log.warning("{} -> {} in {:.3f}s: {}", where, code.name, duration, details)  # noqa: PLE1205
        await context.abort(code, details)
    duration = time.monotonic() - started
    log.bind(outcome="OK", duration=round(duration, 3)).info("{} -> OK in {:.3f}s", where, duration)
    return result

"""One Communicator call: check the client, run the blocking use case in a worker thread, log once.

Every call is logged on one line (rpc, appliance, list, VO, project, images, bytes, duration,
outcome) and reported to the observers (the metrics); every failure is reported as the layout
does (outcomes.py): never a bare UNKNOWN. The log and the metrics name the gRPC status code a
failure maps to (status.py) under every layout, so that they read alike whatever the core.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import grpc
from attrs import frozen
from loguru import logger

from ckos.bootstrap import TransferScope
from ckos.domain.outcome import Outcome
from ckos.entrypoints.grpc.calls import CallsInProgress
from ckos.entrypoints.grpc.outcomes import STATUS_CODES, Outcomes
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


@frozen
class FinishedCall:
    """One call as the log and the metrics see it."""

    rpc: str
    code: str  # the status code's name: "OK", or "CANCELLED" when the core went away
    seconds: float
    bytes_read: int  # image bytes read during the call, whether it succeeded or not
    outcome: Outcome | None = None  # what the use case reported, when it returned


class CallObserver(Protocol):
    """Told of every finished call, after its log line (the metrics)."""

    def call_finished(self, rpc: str, code: str, seconds: float, outcome: Outcome | None) -> None: ...


class Invoker:
    """Runs every call of one server; `in_progress` is what stopping the server interrupts."""

    def __init__(
        self,
        subjects: ClientSubjects | None = None,
        observers: Sequence[CallObserver] = (),
        outcomes: Outcomes = STATUS_CODES,
    ) -> None:
        self.subjects = subjects or ClientSubjects()
        self.in_progress = CallsInProgress()
        self._observers = tuple(observers)
        self._outcomes = outcomes

    async def run(self, context: Context, rpc: str, about: dict[str, str], call: Callable[[], T]) -> T:
        """Run the blocking call in a thread, log it once, and turn any failure into a status code."""
        started = time.monotonic()
        about = {key: clip(value, FIELD_LIMIT) for key, value in about.items()}
        subject = ", ".join(f"{key} {value!r}" for key, value in about.items() if value)
        where = f"{rpc} ({subject})" if subject else rpc
        log = logger.bind(rpc=rpc, **about)
        peer = context.auth_context()
        if not self.subjects.admits(peer):
            # Refused like a failed handshake, under every layout: this client is no core of ours.
            reason = f"client {subject_of(peer)} is not allowed"
            self._finish(log, where, FinishedCall(rpc, "PERMISSION_DENIED", 0.0, 0), reason)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{where}: {reason}")
        transfers = TransferScope()
        try:
            result = await asyncio.to_thread(self.in_progress.run, transfers, call)
        except asyncio.CancelledError:
            # The worker thread goes on until its next read of the image, which then fails.
            transfers.interrupt()
            finished = FinishedCall(rpc, "CANCELLED", time.monotonic() - started, transfers.bytes_read)
            self._finish(
                log, where, finished, "cancelled: transfers stopped, the unfinished image is deleted"
            )
            raise
        except Exception as error:
            code = status_of(error)
            finished = FinishedCall(rpc, code.name, time.monotonic() - started, transfers.bytes_read)
            if code is grpc.StatusCode.INTERNAL:
                # A bug, not a condition of the world: keep the traceback, tell the core little.
                details = f"{where}: internal error ({type(error).__name__}); see the backend log"
                self._finish(log.opt(exception=error), where, finished, "")
            else:
                details = clip(f"{where}: {error}", DETAILS_LIMIT)
                self._finish(log, where, finished, clip(str(error), DETAILS_LIMIT))
            await self._outcomes.failed(context, error, details)
        outcome = result if isinstance(result, Outcome) else None
        finished = FinishedCall(rpc, "OK", time.monotonic() - started, transfers.bytes_read, outcome)
        self._finish(log, where, finished, "")
        self._outcomes.succeeded(context)
        return result

    def _finish(self, log: Any, where: str, call: FinishedCall, reason: str) -> None:
        fields = _fields(call)
        summary = "".join(f"; {name} {value}" for name, value in fields.items() if name != "duration")
        message = f"{where} -> {call.code} in {call.seconds:.3f}s{summary}"
        if reason:
            message = f"{message}: {reason}"
        level = "INFO" if call.code == "OK" else "ERROR" if call.code == "INTERNAL" else "WARNING"
        # A composed message and no arguments: loguru formats nothing, so braces in values are safe.
        log.bind(outcome=call.code, **fields).log(level, message)
        for observer in self._observers:
            try:
                observer.call_finished(call.rpc, call.code, call.seconds, call.outcome)
            except Exception:
                logger.opt(exception=True).error("an observer failed on {}", call.rpc)


def _fields(call: FinishedCall) -> dict[str, Any]:
    """What the log line adds to the request's own fields: only what is known."""
    fields: dict[str, Any] = {"duration": round(call.seconds, 3)}
    outcome = call.outcome
    if outcome is not None and outcome.project is not None:
        fields["project"] = str(outcome.project)
    if outcome is not None and outcome.images():
        fields["images"] = ",".join(outcome.images())
    if outcome is not None and outcome.image_id:
        fields["data"] = "uploaded" if outcome.uploaded else "kept"
    if call.bytes_read:
        fields["bytes"] = call.bytes_read
    return fields

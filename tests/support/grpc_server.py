"""The real gRPC server (ckos.entrypoints.grpc.server) in a background thread, for tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager

from attrs import evolve

from ckos.config import ServerSettings
from ckos.entrypoints.grpc import server
from ckos.entrypoints.grpc.invocation import CallObserver
from ckos.entrypoints.grpc.servicer import CommunicatorBackend

STARTUP_TIMEOUT = 10.0
STOP_GRACE = 1.0


@contextmanager
def running_server(
    backend: CommunicatorBackend,
    settings: ServerSettings | None = None,
    *,
    observers: Sequence[CallObserver] = (),
) -> Iterator[str]:
    """Serve `backend` on 127.0.0.1 at a free port; yields "127.0.0.1:PORT".

    `settings` (e.g. with TLS) are used as given, except that the address is always
    127.0.0.1:0. A failure to start (e.g. a missing handler) is raised here.
    """
    settings = evolve(settings or ServerSettings(), listen="127.0.0.1:0")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="grpc-test-server", daemon=True)
    thread.start()
    try:
        started: Future[server.RunningServer] = asyncio.run_coroutine_threadsafe(
            server.start(backend, settings, observers=observers), loop
        )
        running = started.result(timeout=STARTUP_TIMEOUT)
        try:
            yield f"127.0.0.1:{running.port}"
        finally:
            asyncio.run_coroutine_threadsafe(running.stop(STOP_GRACE), loop).result(timeout=STOP_GRACE + 10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

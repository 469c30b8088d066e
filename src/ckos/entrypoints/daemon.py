"""The daemon: serve until SIGTERM, reload the VO mapping on SIGHUP, keep systemd informed.

SIGTERM (or SIGINT): report STOPPING=1 and NOT_SERVING, refuse new calls, let calls in
progress finish for [server] shutdown_grace seconds, then interrupt their transfers and wait
for them to delete what they were creating. SIGHUP: read the VO mapping file again; an invalid
file leaves the current mapping in use.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from functools import partial

from loguru import logger

from ckos import bootstrap
from ckos.bootstrap import Application
from ckos.config import ConfigError, ServerSettings
from ckos.domain.ports import VODirectory
from ckos.entrypoints import systemd
from ckos.entrypoints.grpc import server
from ckos.entrypoints.grpc.contract import SERVICE_NAME
from ckos.entrypoints.grpc.health_watch import ProjectChecks
from ckos.entrypoints.grpc.invocation import CallObserver
from ckos.entrypoints.grpc.listen import split_listen
from ckos.entrypoints.grpc.servicer import CommunicatorBackend


def run(app: Application) -> None:
    """Serve the application until a stop signal; metrics on their listener when configured."""
    settings = app.settings
    stop_metrics = _expose_metrics(app)
    try:
        asyncio.run(
            serve(
                app.backend,
                settings.server,
                on_reload=partial(reload_mapping, app.directory),
                observers=[app.metrics],
                check=app.backend.check_projects,
            )
        )
    finally:
        stop_metrics()


def _expose_metrics(app: Application) -> Callable[[], None]:
    listen = app.settings.metrics.listen
    if listen is None:
        return lambda: None
    host, port = split_listen(listen)
    try:
        bound, stop = app.metrics.expose(host, port)
    except OSError as error:
        raise ConfigError(f"metrics.listen {listen}: cannot listen: {error.strerror or error}") from None
    logger.info("metrics on http://{}:{}/metrics", listen.rpartition(":")[0], bound)
    return stop


def reload_mapping(directory: VODirectory) -> None:
    """Read the VO mapping file again; on any problem the mapping in use stays, and the log says why."""
    try:
        reloaded = bootstrap.reload_mapping(directory)
    except ConfigError as error:
        logger.error("SIGHUP: VO mapping not reloaded, the previous one stays in use: {}", error)
        return
    if reloaded is None:
        logger.info("SIGHUP: the VO mapping does not come from a file: nothing to reload")
        return
    path, mapping = reloaded
    logger.info("SIGHUP: VO mapping reloaded from {}: {} VO(s)", path, len(mapping.projects_by_vo))


async def serve(
    backend: CommunicatorBackend,
    settings: ServerSettings,
    *,
    on_ready: Callable[[int], None] | None = None,
    on_reload: Callable[[], None] | None = None,
    observers: Sequence[CallObserver] = (),
    check: ProjectChecks | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; on SIGHUP run `on_reload` in a worker thread.

    `on_ready` is called with the bound port once the server accepts calls.
    """
    running = await server.start(backend, settings, observers=observers, check=check)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    reload_wanted = asyncio.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, reload_wanted.set)
    reloads = asyncio.create_task(_reloads(reload_wanted, on_reload))
    try:
        logger.info("serving {} ({} layout) on port {}", SERVICE_NAME, settings.protocol, running.port)
        systemd.ready(f"serving on port {running.port}")
        if on_ready is not None:
            on_ready(running.port)
        await stopping.wait()
        systemd.stopping()
        logger.info("stopping: {}s of grace for calls in progress", settings.shutdown_grace)
    finally:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(number)
        reloads.cancel()
        await running.stop(settings.shutdown_grace)


async def _reloads(wanted: asyncio.Event, reload: Callable[[], None] | None) -> None:
    while True:
        await wanted.wait()
        wanted.clear()
        if reload is None:
            logger.info("SIGHUP: nothing to reload")
            continue
        systemd.reloading()
        try:
            await asyncio.to_thread(reload)
        except Exception:
            logger.opt(exception=True).error("SIGHUP: reloading failed")
        systemd.ready("serving; reloaded")

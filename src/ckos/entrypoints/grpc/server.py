"""The grpc.aio server: the Communicator, health checking and reflection on one listener.

The Communicator speaks the wire layout `[server] protocol` names (protocols.py), and
reflection describes that layout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import grpc
from attrs import frozen
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2
from loguru import logger

from ckos.config import ConfigError, ServerSettings
from ckos.entrypoints.grpc import health_watch, listen
from ckos.entrypoints.grpc.contract import SERVICE_NAME
from ckos.entrypoints.grpc.invocation import CallObserver, Invoker
from ckos.entrypoints.grpc.peers import ClientSubjects
from ckos.entrypoints.grpc.protocols import CORE_20, LAYOUTS, Layout
from ckos.entrypoints.grpc.servicer import Communicator, CommunicatorBackend
from ckos.entrypoints.grpc.strict import descriptor_set

# Appliance messages are a few kilobytes (each text field at most 64 KiB); image data never
# travels over gRPC. A larger message is refused by grpc itself (RESOURCE_EXHAUSTED) before
# Python sees it: megabytes of hostile strings made the daemon's memory grow (docs/reliability.md).
MAX_MESSAGE_BYTES = 1024 * 1024
OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # Without this a second backend on the same port would silently share its calls.
    ("grpc.so_reuseport", 0),
)
# After the grace, interrupted calls delete the images they were creating: time for that.
CLEANUP_SECONDS = 30.0


@frozen
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    invoker: Invoker
    health_watch: asyncio.Task[None] | None = None

    async def stop(self, grace: float | None) -> None:
        """Report NOT_SERVING and refuse new calls; let calls in progress finish for up to `grace`
        seconds, then interrupt their transfers and wait for their clean-up."""
        if self.health_watch is not None:
            self.health_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.health_watch
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        running = self.invoker.in_progress.interrupt_all()
        if running:
            logger.warning(
                "{} call(s) still running after the grace: their transfers are interrupted", running
            )
        # Polled, not waited for in a worker thread: the workers may all be busy with those calls.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLEANUP_SECONDS
        while self.invoker.in_progress.running() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.invoker.in_progress.running():
            logger.error("calls still running {}s after being interrupted: stopping anyway", CLEANUP_SECONDS)


def reflection_pool(layout: Layout[Any, Any, Any] = CORE_20) -> descriptor_pool.DescriptorPool:
    """Descriptors for reflection: betterproto2 registers nothing in protobuf's default pool."""
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_set(layout.package).file:  # dependencies come first
        pool.Add(file)
    for module in (health_pb2, reflection_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)
    return pool


async def start(
    backend: CommunicatorBackend,
    settings: ServerSettings,
    *,
    observers: Sequence[CallObserver] = (),
    check: health_watch.ProjectChecks | None = None,
) -> RunningServer:
    """Build, bind and start the server; raises before binding anything if a handler is missing.

    With `check`, the health service follows it every settings.health_interval seconds.
    """
    tls = settings.tls
    if tls.allowed_subjects and tls.certificate is None:
        # Without TLS no client has a subject: every call would be refused.
        raise ConfigError("server.tls.allowed_subjects needs TLS: set server.tls.certificate")
    layout = LAYOUTS[settings.protocol]
    invoker = Invoker(ClientSubjects(tls.allowed_subjects), observers, layout.outcomes)
    bindings = Communicator(backend, layout, invoker).bindings()
    handler = layout.contract.service.generic_handler(bindings, layout.outcomes)
    server = grpc.aio.server(options=OPTIONS)
    server.add_generic_rpc_handlers([handler])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server, pool=reflection_pool(layout)
    )
    try:
        port = listen.bind(server, settings)
    except BaseException:
        # A server left unstopped crashes grpcio when it is collected later, in another loop.
        await server.stop(None)
        raise
    # Set before starting, so that no health check ever sees the services as unknown.
    await health_watch.set_status(health_servicer, serving=True)
    await server.start()
    watcher = None
    if check is not None and settings.health_interval > 0:
        watcher = asyncio.create_task(health_watch.watch(health_servicer, check, settings.health_interval))
    return RunningServer(server, port, health_servicer, invoker, watcher)

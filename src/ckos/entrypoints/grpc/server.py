"""The grpc.aio server: the Communicator, health checking and reflection on one listener."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import grpc
from attrs import frozen
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2
from loguru import logger

from ckos.config import ConfigError, ServerSettings
from ckos.entrypoints.grpc import listen
from ckos.entrypoints.grpc.contract import COMMUNICATOR
from ckos.entrypoints.grpc.peers import ClientSubjects
from ckos.entrypoints.grpc.servicer import Communicator, CommunicatorBackend
from ckos.entrypoints.grpc.strict import descriptor_set

# Appliance messages are a few kilobytes; image data never travels over gRPC.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # Without this a second backend on the same port would silently share its calls.
    ("grpc.so_reuseport", 0),
)
HEALTH_NAMES = (health.OVERALL_HEALTH, COMMUNICATOR.name)


@frozen
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer

    async def stop(self, grace: float | None) -> None:
        """Report NOT_SERVING, then let calls in progress finish for up to `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def reflection_pool() -> descriptor_pool.DescriptorPool:
    """Descriptors for reflection: betterproto2 registers nothing in protobuf's default pool."""
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_set().file:  # dependencies come first
        pool.Add(file)
    for module in (health_pb2, reflection_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)
    return pool


async def start(backend: CommunicatorBackend, settings: ServerSettings) -> RunningServer:
    """Build, bind and start the server; raises before binding anything if a handler is missing."""
    tls = settings.tls
    if tls.allowed_subjects and tls.certificate is None:
        # Without TLS no client has a subject: every call would be refused.
        raise ConfigError("server.tls.allowed_subjects needs TLS: set server.tls.certificate")
    communicator = Communicator(backend, ClientSubjects(tls.allowed_subjects))
    handler = COMMUNICATOR.generic_handler(communicator.bindings())
    server = grpc.aio.server(options=OPTIONS)
    server.add_generic_rpc_handlers([handler])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (COMMUNICATOR.name, health.SERVICE_NAME, reflection.SERVICE_NAME), server, pool=reflection_pool()
    )
    port = listen.bind(server, settings)
    # Set before starting, so that no health check ever sees the services as unknown.
    for name in HEALTH_NAMES:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    await server.start()
    return RunningServer(server, port, health_servicer)


async def serve(
    backend: CommunicatorBackend, settings: ServerSettings, *, on_ready: Callable[[int], None] | None = None
) -> None:
    """Serve until SIGTERM or SIGINT, then stop with settings.shutdown_grace seconds of grace.

    `on_ready` is called with the bound port once the server accepts calls.
    """
    running = await start(backend, settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for number in signals:
        loop.add_signal_handler(number, stopping.set)
    try:
        logger.info("serving {} on port {}", COMMUNICATOR.name, running.port)
        if on_ready is not None:
            on_ready(running.port)
        await stopping.wait()
        logger.info("stopping: {}s of grace for calls in progress", settings.shutdown_grace)
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
        await running.stop(settings.shutdown_grace)

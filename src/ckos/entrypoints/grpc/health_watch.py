"""The health service follows Keystone and Glance: every mapped project is checked periodically.

NOT_SERVING while any mapped project cannot be listed (its VO's calls would fail), SERVING
again once all answer. The check runs in a worker thread: keystoneauth and glanceclient block.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from grpc_health.v1 import health, health_pb2
from loguru import logger

from ckos.domain.health import ProjectCheck
from ckos.entrypoints.grpc.contract import SERVICE_NAME

HEALTH_NAMES = (health.OVERALL_HEALTH, SERVICE_NAME)
ProjectChecks = Callable[[], Sequence[ProjectCheck]]


async def set_status(servicer: health.aio.HealthServicer, serving: bool) -> None:
    """Report every name SERVING or NOT_SERVING."""
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in HEALTH_NAMES:
        await servicer.set(name, status)


async def watch(servicer: health.aio.HealthServicer, check: ProjectChecks, interval: float) -> None:
    """Check now and then every `interval` seconds, until cancelled; log each change of state."""
    serving = True  # as start() reported it
    while True:
        problem = await _problem(check)
        if (problem is None) != serving:
            serving = problem is None
            await set_status(servicer, serving)
            if serving:
                logger.info("health: SERVING again: every mapped project answers")
            else:
                logger.warning("health: NOT_SERVING: {}", problem)
        await asyncio.sleep(interval)


async def _problem(check: ProjectChecks) -> str | None:
    """Why the backend cannot serve every VO now, or None when it can."""
    try:
        checks = await asyncio.to_thread(check)
    except Exception as error:  # the check reports failures itself; anything else is a bug
        logger.opt(exception=error).error("health: the project check failed")
        return f"the project check failed: {type(error).__name__}"
    failed = [f"project {one.project} ({', '.join(one.vos)}): {one.error}" for one in checks if not one.ok]
    return "; ".join(failed) or None

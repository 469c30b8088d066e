"""The health service follows the catalog: NOT_SERVING while a mapped project cannot be reached."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from attrs import evolve
from grpc_health.v1 import health_pb2

from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.bootstrap import build
from ckos.config import CatalogSettings, ServerSettings, Settings, load
from ckos.domain.errors import CatalogUnavailable
from ckos.domain.health import ProjectCheck
from ckos.entrypoints.grpc import server
from support import devcloud
from support.fakes import StaticDirectory
from support.world import PROJECT

CHECK = "/grpc.health.v1.Health/Check"
Request = health_pb2.HealthCheckRequest
Response = health_pb2.HealthCheckResponse
SERVING, NOT_SERVING = Response.SERVING, Response.NOT_SERVING
SETTINGS = ServerSettings(listen="127.0.0.1:0", health_interval=0.05)
Step = tuple[Callable[[], object], int]  # do this, then wait for that status


async def health_after(
    check: Callable[[], Sequence[ProjectCheck]], steps: Sequence[Step], settings: ServerSettings = SETTINGS
) -> list[int]:
    """For each step, the status once it is the expected one, or the last one seen after a minute."""
    running = await server.start(_NoCalls(), settings, check=check)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            health = channel.unary_unary(CHECK, Request.SerializeToString, Response.FromString)
            seen = []
            for action, expected in steps:
                action()
                seen.append(await _status_becomes(health, expected))
        return seen
    finally:
        await running.stop(None)


async def _status_becomes(health: Any, expected: int, timeout: float = 60) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for name in ("", "cloudkeeper_grpc.Communicator"):
            response = await health(Request(service=name))
            if response.status != expected or asyncio.get_running_loop().time() > deadline:
                break
        else:
            return expected
        if asyncio.get_running_loop().time() > deadline:
            return int(response.status)
        await asyncio.sleep(0.02)


def nothing() -> None:
    pass


class _NoCalls:
    """No Communicator call is made here; start() needs a backend all the same."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call of {name}")


def test_not_serving_while_a_project_cannot_be_listed_and_serving_again_after() -> None:
    catalog = MemoryCatalog()
    app = build(
        Settings(catalog=CatalogSettings(type="memory")),
        catalog=catalog,
        directory=StaticDirectory.of(vo_example_eu="example"),
    )
    steps: list[Step] = [
        (nothing, SERVING),
        (lambda: catalog.faults.fail_project(PROJECT, CatalogUnavailable("glance is down")), NOT_SERVING),
        (lambda: catalog.faults.fail_project(PROJECT, None), SERVING),
    ]
    assert asyncio.run(health_after(app.backend.check_projects, steps)) == [SERVING, NOT_SERVING, SERVING]


def test_a_failing_check_itself_is_not_serving() -> None:
    def broken() -> Sequence[ProjectCheck]:
        raise RuntimeError("a bug in the check")

    assert asyncio.run(health_after(broken, [(nothing, NOT_SERVING)])) == [NOT_SERVING]


def test_an_interval_of_zero_turns_the_checks_off() -> None:
    calls: list[int] = []

    def counted() -> Sequence[ProjectCheck]:
        calls.append(1)
        return []

    async def scenario() -> None:
        running = await server.start(_NoCalls(), evolve(SETTINGS, health_interval=0), check=counted)
        await asyncio.sleep(0.3)
        await running.stop(None)

    asyncio.run(scenario())
    assert calls == []


@pytest.mark.openstack
def test_not_serving_while_glance_is_down_and_serving_once_it_is_back(tmp_path: Path) -> None:
    # A devcloud of its own: the session's shared one must never be stopped.
    vos = {"vo.example.eu": "example"}
    with devcloud.running_devcloud(tmp_path / "cloud", vos=vos) as cloud:
        settings = load(cloud.config_file)
        app = build(settings)
        steps: list[Step] = [
            (nothing, SERVING),
            (lambda: devcloud.down(cloud.dir), NOT_SERVING),
            (lambda: devcloud.up(cloud.dir, vos), SERVING),
        ]
        slower = evolve(SETTINGS, health_interval=0.2)
        seen = asyncio.run(health_after(app.backend.check_projects, steps, slower))
    assert seen == [SERVING, NOT_SERVING, SERVING]

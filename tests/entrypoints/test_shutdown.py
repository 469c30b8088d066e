"""Stopping the server: calls in progress finish within the grace; after it, their transfers are
interrupted and the images they were creating deleted. A call the core cancels stops likewise."""

from __future__ import annotations

import asyncio
import time

import grpc

from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.bootstrap import Application, build
from ckos.config import CatalogSettings, ServerSettings, Settings
from ckos.entrypoints.grpc import server
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from support.fakes import StaticDirectory
from support.slow_images import SlowImageData

ADD = "/cloudkeeper_grpc.Communicator/AddAppliance"
CHUNK = 65536


def application(files: SlowImageData) -> tuple[Application, MemoryCatalog]:
    catalog = MemoryCatalog()
    settings = Settings(catalog=CatalogSettings(type="memory"))
    app = build(
        settings, catalog=catalog, image_data=files, directory=StaticDirectory.of(vo_example_eu="example")
    )
    return app, catalog


def request(files: SlowImageData) -> bytes:
    image = pb.Image(
        location="/spool/app-1.qcow2",
        format=pb.ImageFormat.QCOW2,
        uri="https://images.example.org/app-1.qcow2",
        checksum=files.checksum,
        size=files.size,
    )
    appliance = pb.Appliance(
        identifier="app-1", image_list_identifier="list-1", vo="vo.example.eu", mpuri="m", image=image
    )
    return bytes(appliance)


async def add_during(app: Application, files: SlowImageData, grace: float) -> grpc.StatusCode:
    """Start an AddAppliance, wait for its transfer to begin, stop the server with `grace`."""
    running = await server.start(app.backend, ServerSettings(listen="127.0.0.1:0"))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        call = channel.unary_unary(ADD, bytes, bytes)(request(files))
        while not files.started.is_set():
            await asyncio.sleep(0.01)
        stopping = asyncio.create_task(running.stop(grace))
        code = await call.code()
        await stopping
    return code


def test_a_transfer_finishing_within_the_grace_completes() -> None:
    files = SlowImageData(size=10 * CHUNK, delay=0.05)  # about half a second
    app, catalog = application(files)

    code = asyncio.run(add_during(app, files, grace=10))

    assert code is grpc.StatusCode.OK
    [record] = catalog.records()
    assert record.properties["APPLIANCE_STATUS"] == "ACTIVE"


def test_a_transfer_still_running_after_the_grace_is_interrupted_and_leaves_no_image() -> None:
    files = SlowImageData(size=1000 * CHUNK, delay=0.02)  # about 20 s
    app, catalog = application(files)
    started = time.monotonic()

    code = asyncio.run(add_during(app, files, grace=0.3))

    assert code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    assert time.monotonic() - started < 10
    # stop() returned only once the worker thread had cleaned up.
    assert catalog.records() == []
    assert files.open_streams == 0
    assert app.transfers.in_flight == 0
    assert [call.operation for call in catalog.faults.calls()][-1] == "delete_image"


def test_a_call_the_core_cancels_stops_its_transfer_and_leaves_no_image() -> None:
    files = SlowImageData(size=1000 * CHUNK, delay=0.02)
    app, catalog = application(files)

    async def scenario() -> grpc.StatusCode:
        running = await server.start(app.backend, ServerSettings(listen="127.0.0.1:0"))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            call = channel.unary_unary(ADD, bytes, bytes)(request(files))
            while not files.started.is_set():
                await asyncio.sleep(0.01)
            call.cancel()
            deadline = time.monotonic() + 10
            while (catalog.records() or app.transfers.in_flight) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            code = await call.code()
        await running.stop(1)
        return code

    assert asyncio.run(scenario()) is grpc.StatusCode.CANCELLED
    assert catalog.records() == []
    assert app.transfers.in_flight == 0

"""Calls in progress: interrupted together when the server stops, and waited for within a limit."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest
from loguru import logger

from ckos.adapters.image_data.transfers import TransferScope
from ckos.config import ServerSettings
from ckos.entrypoints.grpc import server
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc.calls import CallsInProgress
from support.scripted_backend import ScriptedBackend


def test_interrupt_all_reaches_running_calls_and_later_ones() -> None:
    calls = CallsInProgress()
    entered, release = threading.Event(), threading.Event()
    running = TransferScope()

    def work() -> bool:
        entered.set()
        release.wait(timeout=10)
        return running.interrupted

    outcome: list[bool] = []
    worker = threading.Thread(target=lambda: outcome.append(calls.run(running, work)))
    worker.start()
    assert entered.wait(timeout=10)
    assert calls.running() == 1
    assert calls.interrupt_all() == 1
    release.set()
    worker.join(timeout=10)
    assert outcome == [True]
    assert calls.running() == 0

    later = TransferScope()
    assert calls.run(later, lambda: later.interrupted) is True


def test_a_call_that_ignores_the_interruption_is_given_up_on_after_the_clean_up_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server, "CLEANUP_SECONDS", 0.3)
    hold = threading.Event()
    backend = ScriptedBackend(hold=hold)  # add_appliance blocks without reading any image
    lines: list[str] = []
    sink = logger.add(lines.append, format="{level} {message}")

    async def scenario() -> float:
        running = await server.start(backend, ServerSettings(listen="127.0.0.1:0"))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            request = pb.Appliance(identifier="app-1", image_list_identifier="l", vo="vo", mpuri="m")
            call = channel.unary_unary("/cloudkeeper_grpc.Communicator/AddAppliance", bytes, bytes)(
                bytes(request)
            )
            while not backend.calls:
                await asyncio.sleep(0.01)
            started = time.monotonic()
            await running.stop(0.1)
            stopped = time.monotonic() - started
            call.cancel()
        hold.set()  # asyncio.run waits for its worker threads before it returns
        return stopped

    try:
        stopped = asyncio.run(scenario())
    finally:
        hold.set()
        logger.remove(sink)
    assert stopped < 5
    assert any(line.startswith("ERROR") and "still running" in line for line in lines)

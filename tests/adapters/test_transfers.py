"""Transfers: every read counted, and stopped once its call's scope is interrupted."""

from __future__ import annotations

import threading

import pytest

from ckos.adapters.image_data.transfers import Transfers, TransferScope, scope
from ckos.domain.errors import SourceUnavailable, TransferInterrupted
from ckos.domain.model import ImageSource, TransferMode
from support.fakes import MemoryImageData

SOURCE = ImageSource(TransferMode.LOCAL, "/spool/a.qcow2")


@pytest.fixture
def files() -> MemoryImageData:
    return MemoryImageData(files={SOURCE.location: b"x" * 1000})


def test_reads_are_counted_for_the_call_and_in_total(files: MemoryImageData) -> None:
    transfers = Transfers(files)
    with scope(TransferScope()) as current, transfers.open(SOURCE) as stream:
        assert transfers.in_flight == 1
        assert stream.read(300) == b"x" * 300
        assert stream.read(-1) == b"x" * 700
    assert current.bytes_read == 1000
    assert (transfers.in_flight, transfers.bytes_read) == (0, 1000)


def test_an_interrupted_scope_stops_the_next_read(files: MemoryImageData) -> None:
    transfers = Transfers(files)
    current = TransferScope()
    with scope(current), transfers.open(SOURCE) as stream:
        stream.read(10)
        current.interrupt()
        with pytest.raises(TransferInterrupted):
            stream.read(10)
    assert transfers.in_flight == 0
    assert files.open_streams == 0


def test_an_interrupted_scope_opens_nothing(files: MemoryImageData) -> None:
    current = TransferScope()
    current.interrupt()
    with scope(current), pytest.raises(TransferInterrupted), Transfers(files).open(SOURCE):
        pass
    assert files.opened == []


def test_the_scope_is_seen_by_another_thread_only_when_entered_there(files: MemoryImageData) -> None:
    transfers = Transfers(files)
    current = TransferScope()
    current.interrupt()
    outcomes: list[str] = []

    def read() -> None:
        # A thread outside any scope: its transfer has a scope of its own, never interrupted.
        with transfers.open(SOURCE) as stream:
            outcomes.append(f"read {len(stream.read(-1))}")

    with scope(current):
        worker = threading.Thread(target=read)
        worker.start()
        worker.join()
    assert outcomes == ["read 1000"]


def test_failures_of_the_source_pass_through_and_are_not_counted_in_flight(files: MemoryImageData) -> None:
    transfers = Transfers(files)
    missing = ImageSource(TransferMode.LOCAL, "/spool/missing.qcow2")
    with pytest.raises(SourceUnavailable), transfers.open(missing):
        pass
    assert transfers.in_flight == 0

"""sd_notify: datagrams to $NOTIFY_SOCKET, a path or an abstract address; silence without one."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from loguru import logger

from ckos.entrypoints import systemd
from support.notify_socket import notify_socket


def test_a_path_socket_receives_the_state_lines(tmp_path: Path) -> None:
    with notify_socket(tmp_path / "notify") as fake:
        assert systemd.notify("READY=1", "STATUS=serving", environ={"NOTIFY_SOCKET": fake.address})
        assert fake.receive() == ["READY=1", "STATUS=serving"]


def test_an_abstract_socket_is_written_with_a_leading_at() -> None:
    with notify_socket(abstract=f"ckos-test-{os.getpid()}") as fake:
        assert fake.address.startswith("@")
        assert systemd.notify("STOPPING=1", environ={"NOTIFY_SOCKET": fake.address})
        assert fake.receive() == ["STOPPING=1"]


def test_reloading_carries_the_monotonic_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with notify_socket(tmp_path / "notify") as fake:
        monkeypatch.setenv("NOTIFY_SOCKET", fake.address)
        assert systemd.reloading()
        reloading, usec = fake.receive()
    assert reloading == "RELOADING=1"
    assert usec.startswith("MONOTONIC_USEC=")
    assert int(usec.partition("=")[2]) > 0


def test_without_notify_socket_nothing_is_sent() -> None:
    assert not systemd.notify("READY=1", environ={})


@pytest.mark.parametrize(
    ("address", "message"),
    [("vsock:2:1234", "not a unix socket address"), ("/nonexistent/notify", "could not notify systemd")],
)
def test_an_unusable_socket_is_logged_and_the_daemon_goes_on(address: str, message: str) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}")
    try:
        assert not systemd.notify("READY=1", environ={"NOTIFY_SOCKET": address})
    finally:
        logger.remove(sink)
    assert any(message in line for line in lines)


def test_a_socket_nobody_reads_any_more_does_not_raise(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
        gone.bind(str(path))
    assert not systemd.notify("READY=1", environ={"NOTIFY_SOCKET": str(path)})

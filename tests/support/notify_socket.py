"""A stand-in for systemd's notification socket: a unix datagram socket the daemon writes to."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from attrs import define


@define
class NotifySocket:
    address: str  # what NOTIFY_SOCKET is set to: a path, or "@name" for an abstract address
    channel: socket.socket

    def receive(self, timeout: float = 20.0) -> list[str]:
        """The lines of the next message (e.g. ["READY=1", "STATUS=..."])."""
        self.channel.settimeout(timeout)
        return self.channel.recv(4096).decode().split("\n")

    def wait_for(self, line: str, timeout: float = 20.0) -> list[list[str]]:
        """Every message received until one with `line`, that one included."""
        messages: list[list[str]] = []
        while not messages or line not in messages[-1]:
            messages.append(self.receive(timeout))
        return messages


@contextmanager
def notify_socket(path: Path | None = None, *, abstract: str = "") -> Iterator[NotifySocket]:
    """Bound at `path`, or at an abstract address when `abstract` names one."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as channel:
        if abstract:
            channel.bind("\0" + abstract)
            yield NotifySocket(f"@{abstract}", channel)
        else:
            assert path is not None
            channel.bind(str(path))
            yield NotifySocket(str(path), channel)

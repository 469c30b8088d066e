"""sd_notify: tell systemd (Type=notify) when the daemon is ready, reloading or stopping.

The protocol is one datagram to the unix socket named by $NOTIFY_SOCKET: a path, or an
abstract address written with a leading '@'. Outside systemd the variable is unset and
nothing is sent.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

from loguru import logger


def notify(*lines: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send the state lines (e.g. "READY=1") to systemd; False when there is no one to tell."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        logger.warning("NOTIFY_SOCKET {!r} is not a unix socket address: systemd not notified", address)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as channel:
            channel.connect(address)
            channel.sendall("\n".join(lines).encode())
    except OSError as error:
        # systemd would then time the start out; the daemon itself can go on serving.
        logger.warning("could not notify systemd through {}: {}", address.replace("\0", "@"), error)
        return False
    return True


def ready(status: str) -> bool:
    return notify("READY=1", f"STATUS={status}")


def reloading() -> bool:
    # systemd >= 253 wants the monotonic time with RELOADING=1; older ones ignore it.
    return notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")


def stopping() -> bool:
    return notify("STOPPING=1", "STATUS=stopping: letting calls in progress finish")

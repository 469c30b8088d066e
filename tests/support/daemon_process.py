"""The real `cloudkeeper-os serve` in a subprocess, its output collected line by line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from attrs import define, field

# The console script pip installed next to the interpreter running the tests.
CLI = Path(sys.executable).with_name("cloudkeeper-os")
STOP_TIMEOUT = 20.0


def free_port() -> int:
    """A port free now on 127.0.0.1 (the daemon binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@define
class Daemon:
    process: subprocess.Popen[str]
    lines: list[str] = field(factory=list)  # stdout and stderr, as they come

    def wait_for_line(self, text: str, timeout: float = 20.0) -> str:
        """The first line holding `text`; fails after `timeout` seconds or if the daemon exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in list(self.lines) if text in line), None)
            if found is not None:
                return found
            if self.process.poll() is not None:
                time.sleep(0.2)  # the reader may still be catching up
                found = next((line for line in list(self.lines) if text in line), None)
                if found is not None:
                    return found
                break
            time.sleep(0.02)
        raise AssertionError(f"no line with {text!r} from the daemon:\n" + "\n".join(self.lines))

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, and the exit status."""
        self.process.terminate()
        return self.process.wait(timeout=timeout)


@contextmanager
def running_daemon(config: Path, env: Mapping[str, str] | None = None) -> Iterator[Daemon]:
    """`cloudkeeper-os serve --config CONFIG`; killed after the block if it still runs."""
    process = subprocess.Popen(
        [str(CLI), "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    daemon = Daemon(process)
    assert process.stdout is not None
    stdout = process.stdout

    def read() -> None:
        for line in stdout:
            daemon.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, name="daemon-output", daemon=True)
    reader.start()
    try:
        yield daemon
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=STOP_TIMEOUT)
        reader.join(timeout=5)

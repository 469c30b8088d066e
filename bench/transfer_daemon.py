"""`cloudkeeper-os serve` as a subprocess for the transfer benchmark, watched from outside:
its resident memory sampled while it works, and the CPU time it spends."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import tomli
from attrs import define, field

READY_TIMEOUT = 30.0
SAMPLE_EVERY = 0.02  # seconds
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def toml(config: Mapping[str, Any], prefix: str = "") -> str:
    """A configuration as TOML: tables of strings, numbers, booleans and lists of strings."""
    lines: list[str] = []
    tables: list[str] = []
    for key, value in config.items():
        if isinstance(value, Mapping):
            tables.append(toml(value, f"{prefix}{key}."))
        else:
            lines.append(f"{key} = {json.dumps(value)}")  # JSON's forms of these are TOML's
    header = [f"[{prefix.rstrip('.')}]"] if prefix and lines else []
    return "\n".join([*header, *lines, "", *tables])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def status_kib(pid: int, name: str) -> int:
    """A "VmRSS"-like line of /proc/PID/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise KeyError(name)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


@define
class Watch:
    """What the daemon did during one measured call."""

    pid: int
    peak_rss_kib: int = 0
    samples: int = 0
    cpu: float = 0.0
    _stop: threading.Event = field(factory=threading.Event)
    _thread: threading.Thread | None = None
    _cpu_before: float = 0.0

    def start(self) -> Watch:
        self._cpu_before = cpu_seconds(self.pid)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.cpu = cpu_seconds(self.pid) - self._cpu_before

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss_kib = max(self.peak_rss_kib, status_kib(self.pid, "VmRSS"))
            self.samples += 1
            time.sleep(SAMPLE_EVERY)


@define
class Daemon:
    process: subprocess.Popen[bytes]
    target: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self) -> int:
        return status_kib(self.pid, "VmRSS")

    def hwm_kib(self) -> int:
        """The peak resident set size since the daemon started."""
        return status_kib(self.pid, "VmHWM")

    @contextmanager
    def watched(self) -> Iterator[Watch]:
        watch = Watch(self.pid).start()
        try:
            yield watch
        finally:
            watch.stop()


@contextmanager
def running_daemon(executable: Path, config_file: Path, folder: Path, **changes: Any) -> Iterator[Daemon]:
    """The daemon on the configuration in config_file with `changes` ({"images": {...}} merged
    into its tables), listening on a free port; stopped (SIGTERM) afterwards."""
    config: dict[str, Any] = tomli.loads(config_file.read_text())
    for table, values in changes.items():
        config[table] = {**config.get(table, {}), **values}
    target = f"127.0.0.1:{free_port()}"
    config["server"] = {**config.get("server", {}), "listen": target}
    config_path = folder / "ckos-bench.toml"
    config_path.write_text(toml(config))
    config_path.chmod(0o600)
    log = folder / "ckos-bench-daemon.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(executable), "serve", "--config", str(config_path)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        with grpc.insecure_channel(target) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT)
            except grpc.FutureTimeoutError:
                raise SystemExit(f"the daemon did not start; its log:\n{log.read_text()}") from None
        yield Daemon(process, target, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

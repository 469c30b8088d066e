"""Child processes: the OpenStack command-line tools and the two gunicorn servers.

Servers run in their own session (so a Ctrl-C or a test runner's signals do not reach them),
are found again through PID files, and are recognised by a tag in their process title so
that a stale PID file never makes devcloud signal somebody else's process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devcloudlib.loopback import answers

STOP_GRACE = 10.0


class SetupError(RuntimeError):
    """A step of `up` failed; the message says which and shows the relevant log lines."""


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"    ({path} is missing)"
    return "\n".join(f"    {line}" for line in text[-lines:]) or f"    ({path} is empty)"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (made if missing) while the block runs."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for OpenStack processes.

    Drops what would leak into the OpenStack venv's Python (PYTHONPATH of the caller), make
    oslo.config or keystone-manage read the caller's settings (OS_*, e.g. a sourced openrc),
    or send loopback traffic to a proxy.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OS_")
        and key.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        and key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env["PYTHONWARNINGS"] = "ignore"  # oslo's eventlet deprecation noise in every log
    env.update(extra)
    return env


def run_tool(label: str, command: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path) -> None:
    """Run one OpenStack tool to completion, its output in `log`; SetupError on failure."""
    with log.open("w") as output:
        done = subprocess.run(
            list(command), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env), cwd=cwd, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise SetupError(f"{label} exited with {done.returncode}; {log}:\n{tail(log)}")


def in_parallel(*steps: Callable[[], Any]) -> list[Any]:
    """Run independent steps at once and wait for all; their results, or the first error."""
    with ThreadPoolExecutor(max_workers=len(steps)) as pool:
        futures = [pool.submit(step) for step in steps]
    return [future.result() for future in futures]


def reserve_port(preferred: int | None) -> socket.socket:
    """A socket bound to 127.0.0.1: the preferred port when it is free, else a free one.

    gunicorn gets the bound socket itself (--bind fd://N), so no other process can take the
    port between choosing and serving it.
    """
    for port in ([preferred] if preferred else []) + [0]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        return sock
    raise SetupError("no free port on 127.0.0.1")


@dataclass(frozen=True)
class Server:
    """One gunicorn server of a devcloud: where its PID file, logs and health URL are."""

    name: str  # "keystone" or "glance"
    dir: Path  # the devcloud DIR
    health_path: str  # "/v3" or "/healthcheck"

    @property
    def pid_file(self) -> Path:
        return self.dir / f"{self.name}.pid"

    @property
    def tag(self) -> str:
        # The process title (gunicorn --name) tells in `ps` which DIR a server belongs to.
        return f"devcloud-{self.name}-{hashlib.sha256(bytes(self.dir)).hexdigest()[:10]}"

    def log(self, kind: str) -> Path:
        return self.dir / "log" / f"{self.name}-{kind}.log"

    def start(
        self, venv: Path, app: str, sock: socket.socket, env: Mapping[str, str], *extra: str
    ) -> subprocess.Popen[bytes]:
        """Start gunicorn serving `app` on the bound socket; returns its master process."""
        command = [
            str(venv / "bin" / "gunicorn"), "--bind", f"fd://{sock.fileno()}", "--name", self.tag,
            # One worker: Keystone's in-process cache must see every request. Threads: the
            # OpenStack WSGI apps are not eventlet-based any more.
            "--workers", "1", "--worker-class", "gthread", "--threads", "8",
            "--graceful-timeout", "5",
            # Without it gunicorn 27 opens a control socket at the shared ~/.gunicorn/gunicorn.ctl.
            "--no-control-socket",
            "--error-logfile", str(self.log("gunicorn")), *extra, app,
        ]  # fmt: skip
        with self.log("stdout").open("w") as output:
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=dict(env), cwd=self.dir, pass_fds=(sock.fileno(),), start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(f"{process.pid} {_start_time(process.pid) or ''}\n")
        return process

    def url(self, base: str) -> str:
        return base + self.health_path

    def running_pid(self) -> int | None:
        """The PID of this server when its PID file names a live process that is still ours.

        The file holds the PID and the process's start time: a PID reused by another process
        after a reboot or a crash has another start time, so it is never signalled.
        """
        try:
            pid_text, _, started = self.pid_file.read_text().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if not _alive(pid):
            return None
        return pid if _start_time(pid) == (started.strip() or None) else None

    def wait_healthy(self, process: subprocess.Popen[bytes], base_url: str, timeout: float) -> None:
        """Return once GET <health path> answers 2xx; SetupError if the server dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SetupError(f"{self.name} exited while starting\n{self.log_tails()}")
            if answers(self.url(base_url)):
                return
            time.sleep(0.1)
        raise SetupError(f"{self.name} did not answer within {timeout:.1f} s\n{self.log_tails()}")

    def log_tails(self) -> str:
        logs = (self.log("stdout"), self.log("gunicorn"), self.dir / "log" / f"{self.name}.log")
        return "\n".join(f"  {log}:\n{tail(log)}" for log in logs if log.exists())

    def stop(self) -> int | None:
        """TERM the server's process group, KILL it after STOP_GRACE; returns the PID or None."""
        pid = self.running_pid()
        if pid is not None:
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                _signal_group(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return pid


def _signal_group(pid: int, signum: int) -> None:
    # start_new_session made the master a group leader; its workers share the group, so a
    # group signal also reaches a worker whose master died first.
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our child (it is not, after `up` returned; then waitpid fails).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by its new parent) counts as gone.
    fields = _stat(pid)
    return not fields or fields[0] != "Z"


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (from the state on); [] without /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return []


def _start_time(pid: int) -> str | None:
    """When the process started (clock ticks since boot), or None where /proc is missing."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else None

"""The real `cloudkeeper-os serve` process: systemd notifications, signals, exit status, JSON logs.

Over the in-memory catalog, which lives in the daemon: what happened to the images is read from
the daemon's own log (one line per catalog change).
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest

from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc._generated.google.protobuf import Empty
from support.daemon_process import Daemon, free_port, running_daemon
from support.notify_socket import notify_socket
from support.slow_http import serving

VO = "vo.example.eu"


def write_config(folder: Path, port: int, *, grace: float = 30.0, mapping: object = None) -> Path:
    (folder / "mapping.json").write_text(json.dumps(mapping or {VO: {"tenant": "example"}}))
    config = folder / "cloudkeeper-os.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:{port}"\nshutdown_grace = {grace}\n'
        '[mapping]\nfile = "mapping.json"\n[catalog]\ntype = "memory"\n[logging]\nformat = "json"\n'
    )
    return config


def records(daemon: Daemon) -> list[dict[str, Any]]:
    """The daemon's log records (loguru's JSON lines; anything else on the output is skipped)."""
    return [json.loads(line)["record"] for line in daemon.lines if line.startswith("{")]


def changes(daemon: Daemon) -> list[tuple[str, str]]:
    """(change, image id) for each catalog change the daemon logged."""
    return [(r["extra"]["change"], r["extra"]["image"]) for r in records(daemon) if "change" in r["extra"]]


def appliance(identifier: str, vo: str = VO, image: pb.Image | None = None) -> pb.Appliance:
    return pb.Appliance(
        identifier=identifier,
        image_list_identifier="list-1",
        vo=vo,
        mpuri=f"https://a/{identifier}",
        image=image,
    )


def test_ready_then_stopping_and_exit_status_0_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    with (
        notify_socket(tmp_path / "notify") as systemd,
        running_daemon(write_config(tmp_path, port), {"NOTIFY_SOCKET": systemd.address}) as daemon,
    ):
        ready = systemd.wait_for("READY=1")[-1]
        assert f"STATUS=serving on port {port}" in ready
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            pb.CommunicatorStub(channel).pre_action(Empty())
        daemon.process.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in systemd.wait_for("STOPPING=1")[-1]
        assert daemon.process.wait(timeout=20) == 0
    [call] = [r for r in records(daemon) if r["extra"].get("rpc") == "PreAction"]
    assert call["extra"]["outcome"] == "OK"
    assert call["level"]["name"] == "INFO"


def test_sigterm_cuts_a_transfer_after_the_grace_deletes_its_image_and_exits_0(tmp_path: Path) -> None:
    content = b"\x00" * (64 * 1024 * 200)  # 200 chunks at 20 per second: far longer than the grace
    port = free_port()
    with (
        serving(content, delay=0.05) as source,
        running_daemon(write_config(tmp_path, port, grace=0.5)) as daemon,
    ):
        daemon.wait_for_line("serving cloudkeeper_grpc.Communicator")
        image = pb.Image(
            mode=pb.ImageMode.REMOTE,
            location=source.url,
            format=pb.ImageFormat.QCOW2,
            uri="https://images.example.org/a.qcow2",
            checksum=hashlib.sha512(content).hexdigest(),
            size=len(content),
        )
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            add = pb.CommunicatorStub(channel).add_appliance
            done: list[BaseException] = []
            caller = threading.Thread(target=lambda: _call(add, appliance("app-1", image=image), done))
            caller.start()
            assert source.requested.wait(timeout=20)
            daemon.process.send_signal(signal.SIGTERM)
            caller.join(timeout=20)
        [error] = done
        assert isinstance(error, grpc.RpcError)
        assert error.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
        assert daemon.process.wait(timeout=20) == 0
    [image_id] = [image for change, image in changes(daemon) if change == "created"]
    assert ("deleted", image_id) in changes(daemon)
    assert ("marked active", image_id) not in changes(daemon)
    [logged] = [r for r in records(daemon) if r["extra"].get("rpc") == "AddAppliance"]
    assert logged["extra"]["outcome"] == "CANCELLED"
    assert 0 < logged["extra"]["bytes"] < len(content)


def _call(method: Any, request: pb.Appliance, errors: list[BaseException]) -> None:
    try:
        method(request)
    except grpc.RpcError as error:
        errors.append(error)


def test_sighup_reloads_the_mapping_and_keeps_it_when_the_file_is_invalid(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    mapping = tmp_path / "mapping.json"
    with (
        notify_socket(tmp_path / "notify") as systemd,
        running_daemon(config, {"NOTIFY_SOCKET": systemd.address}) as daemon,
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        systemd.wait_for("READY=1")
        stub = pb.CommunicatorStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.remove_appliance(appliance("app-1", vo="vo.new.eu"))
        assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION

        mapping.write_text(json.dumps({VO: {"tenant": "example"}, "vo.new.eu": {"tenant": "new"}}))
        daemon.process.send_signal(signal.SIGHUP)
        reload = systemd.wait_for("READY=1")
        assert any("RELOADING=1" in message for message in reload)
        stub.remove_appliance(appliance("app-1", vo="vo.new.eu"))

        mapping.write_text("{not json")
        daemon.process.send_signal(signal.SIGHUP)
        systemd.wait_for("READY=1")
        stub.remove_appliance(appliance("app-1", vo="vo.new.eu"))  # the previous mapping stays
        assert "not valid JSON" in daemon.wait_for_line("VO mapping not reloaded")
        assert daemon.stop() == 0

"""No secret in the daemon's output, even at DEBUG: the real daemon over the real Keystone and Glance.

Everything the process writes (ckos's lines, stdlib logging routed into them, the libraries'
own, grpcio's) is scanned after a full sync and REMOTE transfers with basic auth, good and bad.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import grpc
import pytest

from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from support import core
from support.daemon_process import Daemon, free_port, running_daemon
from support.devcloud import DevCloud
from support.glance_admin import GlanceAdmin, cleaned_up, unique_tag
from support.site import LISTS
from support.slow_http import serving

VO = "vo.example.eu"
REMOTE_USER = "remote-user-5e1f0a"
REMOTE_PASSWORD = "remote-pass-9c2d7b"
CONTENT = b"a remote appliance " * 2000
# Keystone's fernet tokens all start so (version byte 0x80, then the timestamp), in any header.
FERNET = re.compile(r"gAAAAA[A-Za-z0-9_\-]{20,}")


def write_config(cloud: DevCloud, folder: Path, port: int, tag: str) -> Path:
    spool = folder / "spool"
    spool.mkdir()
    config = folder / "cloudkeeper-os.toml"
    values: dict[str, dict[str, object]] = {
        "server": {"listen": f"127.0.0.1:{port}", "shutdown_grace": 5.0, "health_interval": 0.5},
        "mapping": {"file": str(cloud.mapping_file)},
        "images": {"local_directories": [str(spool)]},
        "catalog": {"type": "glance"},
        "glance": {"tag": tag},
        "openstack": {
            "auth_url": cloud.keystone_url,
            "username": cloud.ckos.username,
            "password": cloud.ckos.password,
            "user_domain_name": cloud.ckos.user_domain_name,
            "region_name": cloud.region,
        },
        "logging": {"level": "DEBUG", "format": "text"},
    }
    lines = []
    for section, options in values.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    config.write_text("\n".join(lines) + "\n")
    return config


def remote(identifier: str, location: str, username: str = "", password: str = "") -> pb.Appliance:
    image = pb.Image(
        mode=pb.ImageMode.REMOTE,
        location=location,
        username=username,
        password=password,
        format=pb.ImageFormat.QCOW2,
        uri=f"https://images.example.org/{identifier}.qcow2",
        checksum=hashlib.sha512(CONTENT).hexdigest(),
        size=len(CONTENT),
    )
    return pb.Appliance(
        identifier=identifier,
        image_list_identifier="remote-list",
        vo=VO,
        mpuri=f"https://a/{identifier}",
        image=image,
    )


def sync_and_transfer(daemon: Daemon, port: int, spool: Path) -> None:
    daemon.wait_for_line("serving cloudkeeper_grpc.Communicator")
    target = f"127.0.0.1:{port}"
    run = core.run(target, LISTS["v1"], spool)
    assert run.exit_code == 0, run.crash
    with (
        serving(CONTENT, credentials=(REMOTE_USER, REMOTE_PASSWORD)) as source,
        grpc.insecure_channel(target) as channel,
    ):
        stub = pb.CommunicatorStub(channel)
        stub.add_appliance(remote("remote-1", source.url, REMOTE_USER, REMOTE_PASSWORD))
        in_url = source.url.replace("http://", f"http://{REMOTE_USER}:{REMOTE_PASSWORD}@")
        stub.add_appliance(remote("remote-2", in_url))
        with pytest.raises(grpc.RpcError) as refused:
            stub.add_appliance(remote("remote-3", source.url, REMOTE_USER, f"wrong-{REMOTE_PASSWORD}"))
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
        assert len(source.refused) == 1
    assert daemon.stop() == 0


def test_no_password_token_or_credential_in_the_debug_output(devcloud: DevCloud, tmp_path: Path) -> None:
    admin = GlanceAdmin(devcloud)
    tag = unique_tag("ckos-secrets")
    port = free_port()
    config = write_config(devcloud, tmp_path, port, tag)
    with cleaned_up(admin, tag, []), running_daemon(config) as daemon:
        sync_and_transfer(daemon, port, tmp_path / "spool")
    output = "\n".join(daemon.lines)

    assert " DEBUG " in output  # the level took effect
    assert "AddAppliance (appliance 'remote-1'" in output  # and the calls were logged
    basic = base64.b64encode(f"{REMOTE_USER}:{REMOTE_PASSWORD}".encode()).decode()
    secrets = {
        "the OpenStack password": devcloud.ckos.password,
        "the admin password": devcloud.admin.password,
        "image.username": REMOTE_USER,
        "image.password": REMOTE_PASSWORD,
        "the basic-auth header": basic,
    }
    for what, secret in secrets.items():
        assert secret not in output, f"{what} is in the daemon's output"
    assert not FERNET.findall(output), "a Keystone token is in the daemon's output"
    assert not re.findall(r"X-Auth-Token: (?!\{SHA256\})", output)

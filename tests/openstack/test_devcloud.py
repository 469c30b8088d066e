"""scripts/devcloud gives ckos a working cloud: its user, projects, images and a restart."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import glanceclient
import pytest
from glanceclient import exc

from ckos.adapters.mapping_json import load_mapping
from ckos.config import load
from support.devcloud import TEST_VOS, DevCloud, down, is_running, up
from support.devcloud import load as load_devcloud

MB = 1024 * 1024
VO = "fedcloud.egi.eu"
OTHER_VO = "vo.example.eu"


def images(cloud: DevCloud, vo: str) -> Any:
    return glanceclient.Client("2", session=cloud.session(vo), region_name=cloud.region).images


@pytest.fixture
def payload() -> bytes:
    return os.urandom(MB)


@pytest.fixture
def image(devcloud: DevCloud, payload: bytes) -> Iterator[Any]:
    """An image of ckos in the first VO's project, with properties, a tag and 1 MB of data."""
    api = images(devcloud, VO)
    created = api.create(
        name="devcloud-test", disk_format="qcow2", container_format="bare", visibility="private",
        tags=["cloudkeeper-os"], APPLIANCE_VO=VO, APPLIANCE_ID="a1b2c3",
    )  # fmt: skip
    try:
        api.upload(created.id, io.BytesIO(payload), image_size=len(payload))
        yield api.get(created.id)
    finally:
        with contextlib.suppress(exc.HTTPNotFound):  # the test may have deleted it
            api.delete(created.id)


def test_the_generated_ckos_configuration_and_mapping_are_valid(devcloud: DevCloud) -> None:
    settings = load(devcloud.config_file)
    assert settings.catalog.type == "glance"
    assert settings.openstack.auth_url == devcloud.keystone_url
    assert (settings.openstack.username, settings.openstack.password) == ("ckos", devcloud.ckos.password)
    assert settings.images.local_directories == (devcloud.images_dir,)
    assert devcloud.images_dir.is_dir()
    assert settings.mapping.file == devcloud.mapping_file
    mapping = load_mapping(devcloud.mapping_file)
    assert {vo: mapping.project_for(vo).name for vo in devcloud.vos} == dict(devcloud.vos)


def test_ckos_authenticates_to_every_vo_project(devcloud: DevCloud) -> None:
    assert set(devcloud.vos) == set(TEST_VOS)
    for vo, project_id in devcloud.project_ids_by_vo.items():
        session = devcloud.session(vo)
        assert session.get_token()
        assert session.get_project_id() == project_id
        endpoint = session.get_endpoint(service_type="image", interface="public", region_name=devcloud.region)
        assert endpoint is not None
        assert endpoint.rstrip("/") == devcloud.glance_url


def test_an_image_is_created_uploaded_checked_isolated_and_deleted(
    devcloud: DevCloud, image: Any, payload: bytes
) -> None:
    assert image.status == "active"
    assert image.owner == devcloud.project_id(VO)
    assert image.size == MB
    assert image.os_hash_algo == "sha512"
    assert image.os_hash_value == hashlib.sha512(payload).hexdigest()
    assert image.APPLIANCE_VO == VO
    assert image.tags == ["cloudkeeper-os"]
    assert [found.id for found in images(devcloud, VO).list(filters={"tag": ["cloudkeeper-os"]})] == [
        image.id
    ]
    assert b"".join(images(devcloud, VO).data(image.id)) == payload

    other = images(devcloud, OTHER_VO)
    with pytest.raises(exc.HTTPNotFound):
        other.get(image.id)
    assert image.id not in [found.id for found in other.list()]

    images(devcloud, VO).delete(image.id)
    with pytest.raises(exc.HTTPNotFound):
        images(devcloud, VO).get(image.id)


def test_web_download_from_loopback_is_allowed(devcloud: DevCloud, tmp_path: Path, payload: bytes) -> None:
    (tmp_path / "image.raw").write_bytes(payload)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api = images(devcloud, VO)
        created = api.create(name="devcloud-web-download", disk_format="raw", container_format="bare")
        try:
            api.image_import(
                created.id, method="web-download", uri=f"http://127.0.0.1:{server.server_port}/image.raw"
            )
            deadline = time.monotonic() + 30
            while (found := api.get(created.id)).status != "active" and time.monotonic() < deadline:
                assert not found.get("os_glance_failed_import"), found
                time.sleep(0.1)
            assert found.os_hash_value == hashlib.sha512(payload).hexdigest()
        finally:
            api.delete(created.id)
            server.shutdown()


def test_concurrent_image_operations_do_not_fail(devcloud: DevCloud) -> None:
    """Glance on SQLite answered 500 "database is locked" to overlapping writes before devcloud
    serialised its transactions (scripts/devcloud.d/sqlite_immediate.py)."""

    def lifecycle(number: int) -> None:
        api = images(devcloud, VO if number % 2 else OTHER_VO)
        created = api.create(name=f"devcloud-concurrent-{number}", disk_format="raw", container_format="bare")
        api.upload(created.id, io.BytesIO(os.urandom(100_000)))
        api.update(created.id, APPLIANCE_VERSION=str(number))
        api.delete(created.id)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lifecycle, range(24)))


def test_up_on_a_running_devcloud_changes_nothing(devcloud: DevCloud) -> None:
    before = load_devcloud(devcloud.dir)
    assert up(devcloud.dir) == before


def test_a_restart_keeps_images_passwords_and_urls(devcloud: DevCloud, image: Any, payload: bytes) -> None:
    down(devcloud.dir)
    assert not is_running(devcloud.dir)
    began = time.monotonic()
    restarted = up(devcloud.dir)
    elapsed = time.monotonic() - began
    assert is_running(devcloud.dir)
    assert (restarted.keystone_url, restarted.glance_url) == (devcloud.keystone_url, devcloud.glance_url)
    assert restarted.ckos == devcloud.ckos
    assert restarted.projects == devcloud.projects
    assert restarted.pids != devcloud.pids
    # Databases and keys are kept: no keystone-manage or glance-manage run again.
    assert "keystone_setup" not in restarted.timings
    assert "glance_setup" not in restarted.timings
    assert elapsed < 60
    kept = images(restarted, VO).get(image.id)
    assert kept.os_hash_value == hashlib.sha512(payload).hexdigest()
    assert b"".join(images(restarted, VO).data(image.id)) == payload
    assert load_devcloud(devcloud.dir) == restarted

"""The log: one line per call with what it did, one per catalog change, JSON lines on request."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from loguru import logger

from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.bootstrap import Application, build
from ckos.config import CatalogSettings, LoggingSettings, Settings
from ckos.entrypoints import logs
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from support.fakes import MemoryImageData, StaticDirectory
from support.grpc_server import running_server

CONTENT = b"appliance bytes " * 100


@pytest.fixture
def records() -> Iterator[list[dict[str, Any]]]:
    """Every loguru record meanwhile, as the JSON format serialises it."""
    found: list[dict[str, Any]] = []
    sink = logger.add(lambda message: found.append(json.loads(message)["record"]), serialize=True, level=0)
    try:
        yield found
    finally:
        logger.remove(sink)


@pytest.fixture
def catalog() -> MemoryCatalog:
    return MemoryCatalog()


@pytest.fixture
def app(catalog: MemoryCatalog) -> Application:
    files = MemoryImageData(files={"/spool/app-1": CONTENT})
    directory = StaticDirectory.of(vo_example_eu="example")
    settings = Settings(catalog=CatalogSettings(type="memory"))
    return build(settings, catalog=catalog, image_data=files, directory=directory)


def appliance(vo: str = "vo.example.eu") -> pb.Appliance:
    image = pb.Image(
        location="/spool/app-1",
        format=pb.ImageFormat.QCOW2,
        uri="https://images.example.org/app-1",
        checksum=hashlib.sha512(CONTENT).hexdigest(),
        size=len(CONTENT),
    )
    return pb.Appliance(identifier="app-1", image_list_identifier="list-1", vo=vo, mpuri="m", image=image)


def calls(records: list[dict[str, Any]], rpc: str) -> list[dict[str, Any]]:
    return [record for record in records if record["extra"].get("rpc") == rpc]


def test_a_call_is_one_line_with_project_images_bytes_and_outcome(
    app: Application, catalog: MemoryCatalog, records: list[dict[str, Any]]
) -> None:
    with running_server(app.backend) as address, grpc.insecure_channel(address) as channel:
        pb.CommunicatorStub(channel).add_appliance(appliance())

    [line] = calls(records, "AddAppliance")
    [image_id] = [record.id for record in catalog.records()]
    extra = line["extra"]
    assert extra["appliance"] == "app-1"
    assert extra["list"] == "list-1"
    assert extra["vo"] == "vo.example.eu"
    assert extra["project"] == "default/example"
    assert extra["images"] == image_id
    assert extra["data"] == "uploaded"
    assert extra["bytes"] == len(CONTENT)
    assert extra["outcome"] == "OK"
    assert extra["duration"] >= 0
    assert line["level"]["name"] == "INFO"
    assert f"project default/example; images {image_id}" in line["message"]


def test_each_catalog_change_is_one_line(
    app: Application, catalog: MemoryCatalog, records: list[dict[str, Any]]
) -> None:
    with running_server(app.backend) as address, grpc.insecure_channel(address) as channel:
        stub = pb.CommunicatorStub(channel)
        stub.add_appliance(appliance())
        stub.remove_appliance(appliance())

    [image_id] = [record.id for record in catalog.records()]
    changes = [(r["extra"]["change"], r["extra"]["image"]) for r in records if "change" in r["extra"]]
    assert changes == [
        ("created", image_id),
        ("uploaded", image_id),
        ("marked active", image_id),
        ("retired", image_id),
    ]
    [removal] = calls(records, "RemoveAppliance")
    assert removal["extra"]["images"] == image_id


def test_a_refused_call_is_one_warning_with_its_code(app: Application, records: list[dict[str, Any]]) -> None:
    with (
        running_server(app.backend) as address,
        grpc.insecure_channel(address) as channel,
        pytest.raises(grpc.RpcError),
    ):
        pb.CommunicatorStub(channel).add_appliance(appliance(vo="vo.unmapped.eu"))

    [line] = calls(records, "AddAppliance")
    assert line["extra"]["outcome"] == "FAILED_PRECONDITION"
    assert line["level"]["name"] == "WARNING"
    assert "vo.unmapped.eu" in line["message"]
    assert "project" not in line["extra"]


@pytest.mark.parametrize("format_", ["json", "text"])
def test_configured_output_goes_to_stderr(capsys: pytest.CaptureFixture[str], format_: str) -> None:
    logs.configure(LoggingSettings(level="INFO", format=format_))
    try:
        logger.bind(rpc="PreAction").info("a line from ckos")
        logging.getLogger("some.library").warning("a line from a library")
        logging.getLogger("keystoneauth.session").debug("REQ: X-Auth-Token: {SHA256}...")
    finally:
        logger.remove()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2  # the chatty library's DEBUG is held back
    if format_ == "json":
        first, second = (json.loads(line)["record"] for line in err)
        assert (first["message"], first["extra"]["rpc"]) == ("a line from ckos", "PreAction")
        assert (second["name"], second["level"]["name"]) == ("some.library", "WARNING")
    else:
        assert err[0].endswith("a line from ckos")
        assert "some.library: a line from a library" in err[1]


def test_at_debug_the_libraries_that_print_headers_or_crash_stay_quiet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure(LoggingSettings(level="DEBUG"))
    try:
        logger.debug("ckos debug line")
        logging.getLogger("keystoneauth.session").debug("REQ: curl -H 'X-Auth-Token: gAAAAABsecret'")
        logging.getLogger("glanceclient.common.http").debug("curl -H 'X-Auth-Token: gAAAAABsecret'")
        logging.getLogger("grpc._cython.cygrpc").debug("Loaded running loop")
        logging.getLogger("keystoneauth.session").warning("a warning still passes")
    finally:
        logger.remove()
    err = capsys.readouterr().err
    assert "ckos debug line" in err
    assert "a warning still passes" in err
    assert "gAAAAAB" not in err
    assert "Loaded running loop" not in err

"""Reloading the VO mapping (what SIGHUP does), seen through the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from loguru import logger

from ckos.bootstrap import build
from ckos.config import CatalogSettings, MappingSettings, Settings
from ckos.entrypoints.daemon import reload_mapping
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from support.fakes import StaticDirectory
from support.grpc_server import running_server


@pytest.fixture
def lines() -> Iterator[list[str]]:
    found: list[str] = []
    sink = logger.add(found.append, format="{level} {message}")
    try:
        yield found
    finally:
        logger.remove(sink)


def removal(vo: str) -> pb.Appliance:
    return pb.Appliance(identifier="app-1", image_list_identifier="list-1", vo=vo, mpuri="m")


def code_of(stub: pb.CommunicatorStub, vo: str) -> grpc.StatusCode:
    try:
        stub.remove_appliance(removal(vo))
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_a_vo_mapped_by_a_reload_is_served_and_an_invalid_file_keeps_the_mapping(
    tmp_path: Path, lines: list[str]
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"vo.example.eu": {"tenant": "example"}}))
    settings = Settings(mapping=MappingSettings(file=mapping), catalog=CatalogSettings(type="memory"))
    app = build(settings)
    with running_server(app.backend) as address, grpc.insecure_channel(address) as channel:
        stub = pb.CommunicatorStub(channel)
        assert code_of(stub, "vo.new.eu") is grpc.StatusCode.FAILED_PRECONDITION

        mapping.write_text(
            json.dumps({"vo.example.eu": {"tenant": "example"}, "vo.new.eu": {"tenant": "new"}})
        )
        reload_mapping(app.directory)
        assert code_of(stub, "vo.new.eu") is grpc.StatusCode.OK

        mapping.write_text(json.dumps({"vo.example.eu": {"tenant": ""}}))
        reload_mapping(app.directory)
        assert code_of(stub, "vo.new.eu") is grpc.StatusCode.OK

        mapping.unlink()
        reload_mapping(app.directory)
        assert code_of(stub, "vo.new.eu") is grpc.StatusCode.OK

    assert any(line.startswith("INFO") and "reloaded" in line and "2 VO(s)" in line for line in lines)
    refusals = [line for line in lines if "VO mapping not reloaded" in line]
    assert len(refusals) == 2
    assert all(line.startswith("ERROR") for line in refusals)
    assert "vo.example.eu" in refusals[0]
    assert "cannot read" in refusals[1]


def test_a_mapping_not_read_from_a_file_has_nothing_to_reload(lines: list[str]) -> None:
    reload_mapping(StaticDirectory.of(vo_example_eu="example"))
    assert any("nothing to reload" in line for line in lines)

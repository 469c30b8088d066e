"""Prometheus metrics, scraped over HTTP after calls through the wire."""

from __future__ import annotations

import hashlib
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from ckos.adapters.image_data.transfers import Transfers
from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.adapters.metrics import Metrics
from ckos.bootstrap import Application, build
from ckos.config import CatalogSettings, LifecycleSettings, Settings
from ckos.domain.model import ImageSource, TransferMode
from ckos.entrypoints.cli import main
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc._generated.google.protobuf import Empty
from support.fakes import ManualClock, MemoryImageData, StaticDirectory
from support.grpc_server import running_server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
CONTENT = b"appliance bytes " * 1000


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def appliance(identifier: str, vo: str, content: bytes | None = None) -> pb.Appliance:
    image = None
    if content is not None:
        image = pb.Image(
            location=f"/spool/{identifier}",
            format=pb.ImageFormat.QCOW2,
            uri=f"https://images.example.org/{identifier}",
            checksum=hashlib.sha512(content).hexdigest(),
            size=len(content),
        )
    return pb.Appliance(identifier=identifier, image_list_identifier="list-1", vo=vo, mpuri="m", image=image)


@pytest.fixture
def app() -> Application:
    files = MemoryImageData(files={"/spool/app-1": CONTENT})
    settings = Settings(catalog=CatalogSettings(type="memory"), lifecycle=LifecycleSettings(retire_grace=0))
    clock = ManualClock()
    directory = StaticDirectory.of(vo_example_eu="example")
    return build(
        settings, catalog=MemoryCatalog(clock=clock.now), image_data=files, clock=clock, directory=directory
    )


@pytest.fixture
def metrics_port(app: Application) -> Iterator[int]:
    port, stop = app.metrics.expose("127.0.0.1", 0)
    try:
        yield port
    finally:
        stop()


def test_calls_transfers_images_and_collection_are_counted(app: Application, metrics_port: int) -> None:
    with (
        running_server(app.backend, observers=[app.metrics]) as address,
        grpc.insecure_channel(address) as channel,
    ):
        stub = pb.CommunicatorStub(channel)
        stub.add_appliance(appliance("app-1", "vo.example.eu", CONTENT))
        with pytest.raises(grpc.RpcError):
            stub.add_appliance(appliance("app-2", "vo.unmapped.eu", CONTENT))
        stub.post_action(Empty())
        first = scrape(metrics_port)
        stub.remove_appliance(appliance("app-1", "vo.example.eu"))
        stub.post_action(Empty())
        second = scrape(metrics_port)

    assert value(first, "ckos_rpc_calls_total", rpc="AddAppliance", code="OK") == 1
    assert value(first, "ckos_rpc_calls_total", rpc="AddAppliance", code="FAILED_PRECONDITION") == 1
    assert value(first, "ckos_rpc_duration_seconds_count", rpc="AddAppliance", code="OK") == 1
    assert value(first, "ckos_rpc_duration_seconds_sum", rpc="AddAppliance", code="OK") > 0
    assert value(first, "ckos_image_bytes_read_total") == len(CONTENT)
    assert value(first, "ckos_transfers_in_flight") == 0
    assert value(first, "ckos_managed_images", state="live") == 1
    assert value(first, "ckos_collected_images_total", outcome="deleted") == 0

    assert value(second, "ckos_managed_images", state="live") == 0
    assert value(second, "ckos_managed_images", state="retired") == 0  # retired, then collected at once
    assert value(second, "ckos_collected_images_total", outcome="deleted") == 1
    assert value(second, "ckos_collected_images_total", outcome="kept_in_use") == 0
    assert value(second, "ckos_rpc_calls_total", rpc="PostAction", code="OK") == 2


def test_a_transfer_in_progress_is_shown_in_flight() -> None:
    files = MemoryImageData(files={"/spool/a": b"abc"})
    transfers = Transfers(files)
    metrics = Metrics(transfers)
    port, stop = metrics.expose("127.0.0.1", 0)
    try:
        with transfers.open(ImageSource(TransferMode.LOCAL, "/spool/a")) as stream:
            stream.read(2)
            during = scrape(port)
        after = scrape(port)
    finally:
        stop()
    assert value(during, "ckos_transfers_in_flight") == 1
    assert value(during, "ckos_image_bytes_read_total") == 2
    assert value(after, "ckos_transfers_in_flight") == 0


def test_the_registry_is_not_the_global_one(app: Application) -> None:
    assert app.metrics.registry is not REGISTRY
    assert REGISTRY.get_sample_value("ckos_transfers_in_flight") is None


def test_a_metrics_port_already_taken_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mapping.json").write_text('{"vo.example.eu": {"tenant": "example"}}')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "ckos.toml"
        config.write_text(
            '[mapping]\nfile = "mapping.json"\n[catalog]\ntype = "memory"\n'
            + f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
        )
        assert main(["serve", "--config", str(config)]) == 2
    assert f"metrics.listen 127.0.0.1:{port}: cannot listen" in capsys.readouterr().err

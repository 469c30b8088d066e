"""The core simulator itself, checked against the recording and a scripted correct backend."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from support import core
from support.echo_backend import EchoBackend, serving
from support.independent_client import client

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
LISTS = [FIXTURES / "imagelists" / f"imagelist_{name}.json" for name in ("v1", "v2", "v3", "expired")]
SESSION = FIXTURES / "core-2.0.0-session.jsonl"
NOW = 1_795_676_558  # when the session was recorded
PASSED_THROUGH = [
    "identifier",
    "title",
    "description",
    "mpuri",
    "group",
    "ram",
    "core",
    "version",
    "architecture",
    "operating_system",
    "vo",
    "expiration_date",
    "image_list_identifier",
    "base_mpuri",
    "appid",
]


def test_replay_of_the_four_lists_makes_the_recorded_calls(tmp_path: Path) -> None:
    backend = EchoBackend(now=NOW)
    with serving(backend) as target:
        runs = [core.run(target, path, tmp_path, now=NOW) for path in LISTS]
    assert [run.sequence() for run in runs] == core.recorded_runs(SESSION)
    assert all(run.exit_code == 0 and not run.crash for run in runs)
    assert all(call.code is grpc.StatusCode.OK for run in runs for call in run.calls)
    assert backend.offered
    assert all(matched for _, matched in backend.offered)
    assert list(tmp_path.iterdir()) == []


def test_an_unchanged_list_makes_only_the_five_listing_calls(tmp_path: Path) -> None:
    with serving(EchoBackend(now=NOW)) as target:
        core.run(target, LISTS[0], tmp_path, now=NOW)
        again = core.run(target, LISTS[0], tmp_path, now=NOW)
    assert [rpc for rpc, _ in again.sequence()] == [
        "PreAction",
        "RemoveExpiredAppliances",
        "ImageLists",
        "Appliances",
        "PostAction",
    ]


def test_messages_carry_the_recorded_field_values() -> None:
    recorded = [json.loads(line) for line in SESSION.read_text().splitlines() if line.strip()]
    lists = [core.ImageList.load(path) for path in LISTS]
    checked = 0
    for call in recorded:
        request = call.get("request", {})
        if "identifier" not in request:
            continue
        listed = next(item for item in lists if item.identifier == request["image_list_identifier"])
        identifier = request["identifier"]
        candidates = [e for item in lists for e in item.entries if e["dc:identifier"] == identifier]
        built = [core.to_appliance(client().pb2, listed, entry) for entry in candidates]
        wanted = {name: str(request[name]) for name in PASSED_THROUGH}
        assert any({name: str(getattr(m, name)) for name in PASSED_THROUGH} == wanted for m in built)
        if call["has_image"]:
            assert request["image"]["uri"] in {entry["hv:uri"] for entry in candidates}
        checked += 1
    assert checked == 8


def test_digests_change_as_the_core_decides() -> None:
    v1, v2 = (core.ImageList.load(path) for path in LISTS[:2])
    ubuntu, centos = "1f6d8c2a-0b7e-5f3c-8a9d-4e2b1c7f6a05", "7c3e5a1b-9d2f-5e4a-b6c8-0a1d3f5e7b92"
    assert core.image_digest(v1.entry(ubuntu)) != core.image_digest(v2.entry(ubuntu))
    assert core.image_digest(v1.entry(centos)) == core.image_digest(v2.entry(centos))
    assert core.digest(v1.entry(centos)) != core.digest(v2.entry(centos))
    assert core.image_bytes(v1.entry(ubuntu)) != core.image_bytes(v2.entry(ubuntu))
    assert core.image_bytes(v1.entry(ubuntu)) == core.image_bytes(v1.entry(ubuntu))


def test_offered_format_is_converted_unless_acceptable(tmp_path: Path) -> None:
    backend = EchoBackend(now=NOW)
    with serving(backend) as target:
        core.run(target, LISTS[0], tmp_path, now=NOW, formats=("QCOW2", "OVA"))
    pb2 = client().pb2
    ova = backend.stored["9a0b2c4d-6e8f-5a1b-8c3d-5e7f9a1b3c4d"]
    assert ova.image.format == pb2.Image.OVA
    assert backend.stored["1f6d8c2a-0b7e-5f3c-8a9d-4e2b1c7f6a05"].image.format == pb2.Image.QCOW2


def test_a_failed_pre_action_aborts_the_run(tmp_path: Path) -> None:
    backend = EchoBackend(now=NOW, fail={"PreAction": grpc.StatusCode.UNAVAILABLE})
    with serving(backend) as target:
        run = core.run(target, LISTS[0], tmp_path, now=NOW)
    assert run.sequence() == [("PreAction", "")]
    assert run.calls[0].code is grpc.StatusCode.UNAVAILABLE
    assert run.exit_code == 1


def test_a_failed_remove_expired_is_logged_and_the_run_goes_on(tmp_path: Path) -> None:
    backend = EchoBackend(now=NOW, fail={"RemoveExpiredAppliances": grpc.StatusCode.INTERNAL})
    with serving(backend) as target:
        run = core.run(target, LISTS[0], tmp_path, now=NOW)
    assert run.sequence() == core.recorded_runs(SESSION)[0]
    assert run.exit_code == 12


@pytest.mark.parametrize("rpc", ["ImageLists", "Appliances"])
def test_a_failed_listing_crashes_the_core_without_post_action(tmp_path: Path, rpc: str) -> None:
    backend = EchoBackend(now=NOW)
    with serving(backend) as target:
        core.run(target, LISTS[0], tmp_path, now=NOW)
        backend.fail[rpc] = grpc.StatusCode.UNAVAILABLE
        run = core.run(target, LISTS[1], tmp_path, now=NOW)
    assert run.sequence()[-1][0] == rpc
    assert run.calls[-1].code is grpc.StatusCode.UNAVAILABLE
    assert run.exit_code == 1


@pytest.mark.parametrize(
    "field", ["identifier", "mpuri", "vo", "image_list_identifier", "image", "image.uri", "image.checksum"]
)
def test_an_incomplete_appliances_entry_crashes_the_core(tmp_path: Path, field: str) -> None:
    backend = EchoBackend(now=NOW)
    with serving(backend) as target:
        core.run(target, LISTS[0], tmp_path, now=NOW)
        backend.broken_entry = field
        run = core.run(target, LISTS[1], tmp_path, now=NOW)
    assert run.sequence()[-1][0] == "Appliances"
    assert run.exit_code == 1
    assert field in run.crash


def test_a_failed_post_action_is_logged(tmp_path: Path) -> None:
    backend = EchoBackend(now=NOW, fail={"PostAction": grpc.StatusCode.UNAVAILABLE})
    with serving(backend) as target:
        run = core.run(target, LISTS[0], tmp_path, now=NOW)
    assert run.sequence() == core.recorded_runs(SESSION)[0]
    assert run.exit_code == 12


def test_a_failed_add_is_logged_and_the_file_is_still_deleted(tmp_path: Path) -> None:
    backend = EchoBackend(now=NOW, fail={"AddAppliance": grpc.StatusCode.FAILED_PRECONDITION})
    with serving(backend) as target:
        run = core.run(target, LISTS[0], tmp_path, now=NOW)
    assert run.sequence() == core.recorded_runs(SESSION)[0]
    assert run.exit_code == 12
    assert list(tmp_path.iterdir()) == []


def test_tamper_changes_the_offered_file(tmp_path: Path) -> None:
    backend = EchoBackend(now=NOW)

    def corrupt(identifier: str, path: Path) -> None:
        path.write_bytes(path.read_bytes() + b"!")

    with serving(backend) as target:
        core.run(target, LISTS[0], tmp_path, now=NOW, tamper=corrupt)
    assert backend.offered
    assert not any(matched for _, matched in backend.offered)


def test_an_expired_list_new_to_the_backend_is_not_registered(tmp_path: Path) -> None:
    backend = EchoBackend(now=NOW)
    with serving(backend) as target:
        run = core.run(target, LISTS[3], tmp_path, now=NOW)
    expected = ["PreAction", "RemoveExpiredAppliances", "ImageLists", "PostAction"]
    assert [rpc for rpc, _ in run.sequence()] == expected
    assert backend.stored == {}

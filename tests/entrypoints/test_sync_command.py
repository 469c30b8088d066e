"""`cloudkeeper-os sync`'s command line: sources chosen, configuration refused with status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckos.entrypoints import cli

UNREACHABLE = "http://127.0.0.1:9"  # nothing listens on the discard port
Capture = pytest.CaptureFixture[str]


def config(tmp_path: Path, *names: str) -> Path:
    (tmp_path / "mapping.json").write_text(json.dumps({"fedcloud.egi.eu": {"tenant": "fedcloud"}}))
    sources = "".join(
        f'[[sync.oci]]\nname = "{name}"\nregistry = "{UNREACHABLE}"\n'
        'repositories = ["r"]\nvo = "fedcloud.egi.eu"\n'
        for name in names
    )
    path = tmp_path / "ckos.toml"
    path.write_text(
        '[mapping]\nfile = "mapping.json"\n[catalog]\ntype = "memory"\n'
        f'[sync]\nwork_dir = "{tmp_path / "work"}"\nlock_file = "{tmp_path / "sync.lock"}"\n{sources}'
    )
    return path


def run(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    "given",
    [["--source", "a", "c"], ["--source", "a", "--source", "c"], ["--source", "a", "c", "--source", "a"]],
)
def test_only_the_sources_named_are_read(tmp_path: Path, capsys: Capture, given: list[str]) -> None:
    status, out, _ = run(capsys, "sync", "--config", str(config(tmp_path, "a", "b", "c")), "--json", *given)

    assert status == 1  # the registry is unreachable: incomplete, nothing removed
    summary = json.loads(out)
    assert [source["name"] for source in summary["sources"]] == ["a", "c"]
    assert all(source["complete"] is False and source["retired"] == 0 for source in summary["sources"])


def test_every_source_is_read_when_none_is_named(tmp_path: Path, capsys: Capture) -> None:
    _, out, _ = run(capsys, "sync", "--config", str(config(tmp_path, "a", "b")), "--json")
    assert [source["name"] for source in json.loads(out)["sources"]] == ["a", "b"]


def test_an_unknown_source_is_a_configuration_error(tmp_path: Path, capsys: Capture) -> None:
    status, out, err = run(capsys, "sync", "--config", str(config(tmp_path, "a")), "--source", "nope")
    assert (status, out) == (2, "")
    assert "--source nope: no such source (configured: a)" in err


def test_no_source_at_all_is_a_configuration_error(tmp_path: Path, capsys: Capture) -> None:
    status, _, err = run(capsys, "sync", "--config", str(config(tmp_path)))
    assert status == 2
    assert "no sync source configured" in err


def test_a_source_for_an_unmapped_vo_is_a_configuration_error(tmp_path: Path, capsys: Capture) -> None:
    path = config(tmp_path, "a")
    path.write_text(path.read_text().replace('vo = "fedcloud.egi.eu"', 'vo = "unmapped.example.org"'))
    status, _, err = run(capsys, "sync", "--config", str(path))
    assert status == 2
    assert "unmapped.example.org" in err

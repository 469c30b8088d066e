"""The `cloudkeeper-os` command line: exit codes and what it prints."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from ckos import __version__
from ckos.entrypoints.cli import main


def _config(tmp_path: Path, extra: str = "", mapping: object | None = None) -> Path:
    (tmp_path / "mapping.json").write_text(
        json.dumps(mapping if mapping is not None else {"vo.example.eu": {"tenant": "example"}})
    )
    path = tmp_path / "ckos.toml"
    path.write_text(f'[mapping]\nfile = "mapping.json"\n[catalog]\ntype = "memory"\n{extra}')
    return path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"cloudkeeper-os {__version__}"


def test_check_config_reports_the_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(_config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "configuration is valid" in out
    assert "VO vo.example.eu -> project default/example" in out


@pytest.mark.parametrize(
    ("extra", "mapping", "message"),
    [
        ('[server]\nlisten = "nowhere"\n', None, "server.listen must be HOST:PORT"),
        ("", {"vo.example.eu": {"tenant": ""}}, "vo.example.eu"),
        ("", [], "mapping"),
    ],
)
def test_check_config_refuses_bad_input_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, mapping: object, message: str
) -> None:
    assert main(["check-config", "--config", str(_config(tmp_path, extra, mapping))]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_configuration_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_serving_glance_without_keystone_settings_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path)
    path.write_text(path.read_text().replace('type = "memory"', 'type = "glance"'))

    assert main(["serve", "--config", str(path)]) == 2
    assert "openstack.auth_url is required" in capsys.readouterr().err


def test_check_lists_every_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(_config(tmp_path))]) == 0
    assert "ok      project default/example (VO vo.example.eu): 0 managed images" in capsys.readouterr().out


def test_migrate_needs_glance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--config", str(_config(tmp_path))]) == 2
    assert "migration works on Glance only" in capsys.readouterr().err


def test_a_port_already_taken_is_exit_1_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _config(tmp_path, f'[server]\nlisten = "127.0.0.1:{port}"\n')
        assert main(["serve", "--config", str(config)]) == 1
    assert f"could not listen on 127.0.0.1:{port}" in capsys.readouterr().err

"""`cloudkeeper-os convert-config`: files created whole or not at all, the password never printed."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli

from ckos.adapters.legacy_config import HIDDEN_VALUE
from ckos.adapters.mapping_json import load_mapping
from ckos.config import load, parse
from ckos.domain.model import ProjectRef
from ckos.entrypoints import convert_config
from ckos.entrypoints.convert_config import main

FIXTURES = Path(__file__).parent.parent / "fixtures" / "legacy"
PASSWORD = "s3cret-$$-Pa55"  # oslo.config reads $$ as $
MEANT = "s3cret-$-Pa55"
KEYSTONE = "https://keystone.example.org:5000/v3"


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """The upstream sample, edited as its README says, with a project domain and oslo.log options."""
    sample = (FIXTURES / "cloudkeeper-os.conf.sample").read_text(encoding="utf-8")
    for commented, value in (
        ("#grpc_port = 50051", "grpc_port = 50052"),
        ("#debug = false", "debug = true"),
        ("#log_file = <None>", "log_file = /var/log/cloudkeeper-os/cloudkeeper-os.log"),
        ("#project_domain_name = default", "project_domain_name = egi"),
        ("#image_visibility = private", "image_visibility = community"),
    ):
        assert commented in sample
        sample = sample.replace(commented, value)
    path = tmp_path / "old" / "cloudkeeper-os.conf"
    path.parent.mkdir()
    path.write_text(
        sample + f"username = ckos\npassword = {PASSWORD}\nauth_url = {KEYSTONE}\n", encoding="utf-8"
    )
    (path.parent / "voms.json").write_bytes((FIXTURES / "voms.json.sample").read_bytes())
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "new"
    folder.mkdir()
    return folder


@pytest.fixture(autouse=True)
def umask() -> Iterator[None]:
    previous = os.umask(0o002)  # permissive: the configuration must be 0600 all the same
    yield
    os.umask(previous)


def test_output_is_created_0600_loads_and_means_the_same(
    old: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = out / "cloudkeeper-os.toml"
    assert main(["convert-config", str(old), "--output", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    settings = load(target)
    assert settings.server.listen == "127.0.0.1:50052"
    assert settings.server.protocol == "core-1"
    assert settings.glance.visibility == "community"
    assert (settings.openstack.auth_url, settings.openstack.username) == (KEYSTONE, "ckos")
    assert settings.openstack.password == MEANT
    assert settings.logging.level == "DEBUG"
    assert settings.mapping.file == Path("/etc/cloudkeeper-os/voms.json")  # the earlier file, as it is
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"wrote {target} (mode 0600)" in captured.err
    assert "project_domain_name is not carried over" in captured.err  # no --mapping given
    assert MEANT not in captured.err
    assert PASSWORD not in captured.err
    assert os.listdir(out) == ["cloudkeeper-os.toml"]


def test_the_mapping_is_converted_with_its_domain_next_to_the_output(
    old: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = out / "cloudkeeper-os.toml"
    voms = old.parent / "voms.json"
    assert main(["convert-config", str(old), "--mapping", str(voms), "--output", str(target)]) == 0
    written = out / "cloudkeeper-os.mapping.json"
    assert sorted(os.listdir(out)) == ["cloudkeeper-os.mapping.json", "cloudkeeper-os.toml"]
    settings = load(target)
    assert settings.mapping.file == written
    mapping = load_mapping(settings.mapping.file)
    assert mapping.project_for("dteam") == ProjectRef(name="EGI_dteam", domain="egi")
    assert mapping.project_for("ops") == ProjectRef(name="EGI_ops", domain="egi")
    assert json.loads(written.read_text()) == {
        "dteam": {"project": "EGI_dteam", "domain": "egi"},
        "ops": {"project": "EGI_ops", "domain": "egi"},
    }
    assert "written as cloudkeeper-os.mapping.json next to" in target.read_text().replace("\n# ", " ")
    err = capsys.readouterr().err
    assert f"wrote the converted VO mapping to {written}" in err
    assert "not carried over" not in err
    assert MEANT not in err


def test_without_output_stdout_has_the_toml_without_the_password(
    old: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voms = old.parent / "voms.json"
    before = sorted(os.listdir(old.parent))
    assert main(["convert-config", str(old), "--mapping", str(voms)]) == 0
    captured = capsys.readouterr()
    assert MEANT not in captured.out + captured.err
    assert PASSWORD not in captured.out + captured.err
    settings = parse(tomli.loads(captured.out), base=out)
    assert settings.openstack.password == HIDDEN_VALUE
    assert settings.server.listen == "127.0.0.1:50052"
    assert "the password is not shown; --output FILE writes it" in captured.err
    assert '#     "dteam": {' in captured.out  # the converted mapping, shown only
    assert sorted(os.listdir(old.parent)) == before
    assert os.listdir(out) == []


def test_an_existing_output_is_never_overwritten(
    old: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = out / "cloudkeeper-os.toml"
    target.write_text("mine")
    assert main(["convert-config", str(old), "--output", str(target)]) == 2
    assert target.read_text() == "mine"
    assert f"{target} exists: convert-config never overwrites a file" in capsys.readouterr().err


def test_an_existing_mapping_output_leaves_nothing_written(
    old: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (out / "cloudkeeper-os.mapping.json").write_text("{}")
    target = out / "cloudkeeper-os.toml"
    code = main(
        ["convert-config", str(old), "--mapping", str(old.parent / "voms.json"), "--output", str(target)]
    )
    assert code == 2
    assert not target.exists()
    assert "cloudkeeper-os.mapping.json exists" in capsys.readouterr().err


def test_a_failed_write_removes_what_was_created(
    old: Path, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = convert_config._create

    def failing(path: Path, content: str, mode: int) -> None:
        if path.suffix == ".toml":
            raise convert_config._Refused(f"{path}: cannot write: No space left on device")
        real(path, content, mode)

    monkeypatch.setattr(convert_config, "_create", failing)
    target = out / "cloudkeeper-os.toml"
    code = main(
        ["convert-config", str(old), "--mapping", str(old.parent / "voms.json"), "--output", str(target)]
    )
    assert code == 2
    assert os.listdir(out) == []
    assert "No space left on device" in capsys.readouterr().err


def test_an_unwritable_place_is_exit_2(old: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "cloudkeeper-os.toml"
    assert main(["convert-config", str(old), "--output", str(target)]) == 2
    assert f"{target}: cannot create: No such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("\ngrpc_port = 50052", "\ngrpc_port = abc", "line 10: [DEFAULT] grpc_port: must be a port number"),
        ("#tempdir = /tmp", "tmpdir = /tmp", "line 16: [DEFAULT] tmpdir: unknown option"),
        ("\ndebug = true", "\n[glance]\nflavor = x", "line 29: unknown [glance]"),
        ("[DEFAULT]", "{", "line 1: not an INI line"),
        ("\ndebug = true", "\ndebug = 2", "line 29: [DEFAULT] debug: must be true or false, not '2'"),
        (
            "\nauth_url = https",
            "\n#auth_url = https",
            "[keystone_authtoken] auth_url is not set (the section starting at line 120)",
        ),
    ],
)
def test_broken_input_is_exit_2_naming_the_line_with_nothing_written(
    old: Path, out: Path, capsys: pytest.CaptureFixture[str], replace: str, by: str, message: str
) -> None:
    text = old.read_text(encoding="utf-8")
    assert replace in text
    old.write_text(text.replace(replace, by, 1), encoding="utf-8")
    target = out / "cloudkeeper-os.toml"
    assert (
        main(
            ["convert-config", str(old), "--mapping", str(old.parent / "voms.json"), "--output", str(target)]
        )
        == 2
    )
    captured = capsys.readouterr()
    assert captured.err.startswith(f"cloudkeeper-os convert-config: {old}, {message}")
    assert captured.out == ""
    assert os.listdir(out) == []
    assert MEANT not in captured.err
    assert PASSWORD not in captured.err


def test_a_broken_mapping_is_exit_2_with_nothing_written(
    old: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voms = old.parent / "voms.json"
    voms.write_text('{"dteam": {"tenant": "EGI_dteam"},\n "ops": {}}')
    assert main(["convert-config", str(old), "--mapping", str(voms), "--output", str(out / "c.toml")]) == 2
    assert f"{voms}: VO 'ops': names no project" in capsys.readouterr().err
    assert os.listdir(out) == []


def test_unreadable_input_is_exit_2(old: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert-config", str(tmp_path / "nope.conf")]) == 2
    assert (
        f"{tmp_path / 'nope.conf'}: cannot read the earlier configuration: No such file"
        in capsys.readouterr().err
    )
    assert main(["convert-config", str(old), "--mapping", str(tmp_path)]) == 2
    assert f"{tmp_path}: cannot read the earlier VO mapping: Is a directory" in capsys.readouterr().err
    old.write_bytes(b"[DEFAULT]\n\ndebug = \xff\n")
    assert main(["convert-config", str(old)]) == 2
    assert f"{old}, line 3: the earlier configuration is not UTF-8 text" in capsys.readouterr().err


def test_the_subcommand_is_described(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["convert-config", "--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert "convert-config [-h] [--mapping voms.json] [--output FILE] OLD.conf" in " ".join(usage.split())


@pytest.mark.parametrize("mask", [0o022, 0o277])
def test_the_mode_is_0600_whatever_the_umask(old: Path, out: Path, mask: int) -> None:
    os.umask(mask)
    target = out / "cloudkeeper-os.toml"
    assert main(["convert-config", str(old), "--output", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

"""The TOML configuration: the documented sample, defaults, and clear errors."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from attrs import evolve

from ckos.config import ConfigError, Settings, documented_options, load, parse

COMMENTED_OPTION = re.compile(r"# ([a-z_]+ = |\[\[[a-z_.]+\]\]$)")
SAMPLE = Path(__file__).resolve().parents[2] / "config" / "cloudkeeper-os.toml"


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for item in value:  # an array of tables: [[sync.oci]]
                flat.update(_flatten(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _documented_keys(text: str) -> set[str]:
    """Every option of the sample, set or shown commented out (`# key = value`)."""
    uncommented = "\n".join(line[2:] if COMMENTED_OPTION.match(line) else line for line in text.splitlines())
    return set(_flatten(tomllib.loads(uncommented)))


def test_the_sample_documents_every_option_and_nothing_else() -> None:
    assert _documented_keys(SAMPLE.read_text()) == set(documented_options())


def test_the_sample_loads_and_states_the_defaults() -> None:
    settings = load(SAMPLE)
    # But auth_url, which has no default: the sample names a placeholder, so that check-config
    # passes on the configuration a package installs.
    assert settings.openstack.auth_url == "https://keystone.example.org:5000/v3"
    assert evolve(settings, openstack=evolve(settings.openstack, auth_url="")) == Settings()


def test_the_names_others_rely_on_have_their_defaults() -> None:
    settings = Settings()
    assert settings.server.listen == "127.0.0.1:50051"
    assert settings.server.protocol == "core-2.0"
    assert settings.glance.tag == "cloudkeeper-os"
    assert settings.glance.visibility == "private"
    assert settings.images.remote_allowed_hosts == ()
    assert settings.logging.level == "INFO"


@pytest.mark.parametrize("protocol", ["core-2.0", "core-1", "proto-2019"])
def test_each_wire_layout_can_be_chosen(protocol: str) -> None:
    settings = parse({"server": {"protocol": protocol}}, base=Path("/etc/cloudkeeper-os"))
    assert settings.server.protocol == protocol


def test_relative_paths_are_taken_from_the_configuration_folder(tmp_path: Path) -> None:
    path = tmp_path / "ckos.toml"
    path.write_text('[mapping]\nfile = "mapping.json"\n[images]\nlocal_directories = ["spool", "/abs"]\n')

    settings = load(path)

    assert settings.mapping.file == tmp_path / "mapping.json"
    assert settings.images.local_directories == (tmp_path / "spool", Path("/abs"))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"server": {"listne": "x"}}, r"unknown option\(s\) in \[server\]: listne"),
        ({"srever": {}}, r"unknown option\(s\) in \[top level\]: srever"),
        ({"server": {"listen": "nowhere"}}, "server.listen must be HOST:PORT"),
        ({"server": {"listen": "127.0.0.1:70000"}}, "server.listen must be HOST:PORT"),
        ({"server": {"shutdown_grace": -1}}, "server.shutdown_grace must be a non-negative number"),
        ({"server": {"tls": {"certificate": "c.pem"}}}, "needs key and client_ca"),
        ({"glance": {"visibility": "everyone"}}, "glance.visibility must be one of"),
        ({"glance": {"tag": ""}}, "glance.tag must not be empty"),
        ({"images": {"local_directories": "/one"}}, "images.local_directories must be a list"),
        ({"lifecycle": {"retire_grace": 1.5}}, "lifecycle.retire_grace must be a whole number"),
        ({"openstack": {"verify": "yes"}}, "openstack.verify must be true or false"),
        ({"logging": {"format": "xml"}}, "logging.format must be one of text, json"),
        ({"server": {"protocol": "core-1.0"}}, "server.protocol must be one of core-2.0, core-1, proto-2019"),
        ({"server": "127.0.0.1"}, r"\[server\] must be a table"),
    ],
)
def test_invalid_configurations_are_refused_with_a_clear_message(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(raw, base=Path("/etc/cloudkeeper-os"))


def test_log_levels_are_case_insensitive() -> None:
    assert parse({"logging": {"level": "debug"}}, base=Path(".")).logging.level == "DEBUG"


def test_unreadable_and_invalid_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(broken)


def test_secrets_are_not_shown_in_the_settings_repr() -> None:
    settings = parse(
        {"openstack": {"password": "hunter2", "application_credential_secret": "s3cret"}}, base=Path(".")
    )
    assert "hunter2" not in repr(settings)
    assert "s3cret" not in repr(settings)

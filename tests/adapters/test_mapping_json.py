"""The VO mapping file: both historical shapes, ids and names, clear errors, safe reloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckos.adapters.mapping_json import JsonVODirectory, MappingError, load_mapping, parse_mapping
from ckos.domain.errors import UnmappedVO
from ckos.domain.model import ProjectRef

PROJECT_ID = "0f3a9c5e2b7d4e1fa6c8d0b2e4f6a8c1"


def write(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_the_keystone_voms_shape_maps_a_vo_to_a_tenant(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path / "voms.json", {"fedcloud.egi.eu": {"tenant": "fedcloud"}}))
    assert mapping.project_for("fedcloud.egi.eu") == ProjectRef(name="fedcloud", domain="default")


def test_the_later_shape_names_a_project_and_its_domain(tmp_path: Path) -> None:
    content = {
        "vo.example.eu": {"project": "example", "domain": "egi"},
        "ops": {"project": PROJECT_ID},
        "dteam": {"project": "0f3a9c5e-2b7d-4e1f-a6c8-d0b2e4f6a8c1", "domain": "ignored for ids"},
        "atlas": {"project": "0F3A9C5E2B7D4E1FA6C8D0B2E4F6A8C1"},  # not Keystone's lower-case hex
    }
    mapping = load_mapping(write(tmp_path / "mapping.json", content))
    assert mapping.project_for("vo.example.eu") == ProjectRef(name="example", domain="egi")
    assert mapping.project_for("ops") == ProjectRef(id=PROJECT_ID)
    assert mapping.project_for("dteam") == ProjectRef(id="0f3a9c5e-2b7d-4e1f-a6c8-d0b2e4f6a8c1")
    assert mapping.project_for("atlas") == ProjectRef(
        name="0F3A9C5E2B7D4E1FA6C8D0B2E4F6A8C1", domain="default"
    )
    with pytest.raises(UnmappedVO):
        mapping.project_for("cms")


def test_two_vos_sharing_a_project_list_it_once(tmp_path: Path) -> None:
    content = {"a": {"tenant": "shared"}, "b": {"project": "shared", "domain": "default"}}
    assert load_mapping(write(tmp_path / "m.json", content)).projects() == [
        ProjectRef(name="shared", domain="default")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": {"tenant": "x"}, "a": {"tenant": "y"}}', "'a' given more than once"),
        ("[]", "must be a JSON object"),
        ("{}", "maps no VO"),
        ('{"": {"tenant": "x"}}', "a VO name is empty"),
        ('{"fedcloud": "fedcloud"}', "VO 'fedcloud': must be an object"),
        ('{"fedcloud": {}}', "VO 'fedcloud': give exactly one of"),
        ('{"fedcloud": {"tenant": "a", "project": "b"}}', "VO 'fedcloud': give exactly one of"),
        ('{"fedcloud": {"tenant": "  "}}', "VO 'fedcloud': tenant must be a non-empty string"),
        ('{"fedcloud": {"project": 7}}', "VO 'fedcloud': project must be a non-empty string"),
        ('{"fedcloud": {"project": "p", "domain": ""}}', "VO 'fedcloud': domain must be a non-empty string"),
        ('{"fedcloud": {"project": "p", "domian": "d"}}', "VO 'fedcloud': unknown key(s) domian"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_vo(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path / "mapping.json", content)
    with pytest.raises(MappingError) as raised:
        load_mapping(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_an_unreadable_file_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"missing\.json: cannot read the VO mapping"):
        load_mapping(tmp_path / "missing.json")
    (tmp_path / "latin1.json").write_bytes(b'{"caf\xe9": {"tenant": "x"}}')
    with pytest.raises(MappingError, match="not UTF-8"):
        load_mapping(tmp_path / "latin1.json")


def test_parse_mapping_names_the_given_origin() -> None:
    with pytest.raises(MappingError, match=r"^inline: maps no VO"):
        parse_mapping("{}", origin="inline")


def test_the_directory_serves_the_file_and_reloads_it(tmp_path: Path) -> None:
    path = write(tmp_path / "mapping.json", {"a": {"tenant": "one"}})
    directory = JsonVODirectory(path)
    assert directory.mapping().project_for("a") == ProjectRef(name="one", domain="default")
    write(path, {"a": {"tenant": "two"}, "b": {"project": PROJECT_ID}})
    assert directory.reload() == directory.mapping()
    assert directory.mapping().project_for("a") == ProjectRef(name="two", domain="default")
    assert directory.mapping().project_for("b") == ProjectRef(id=PROJECT_ID)


def test_a_bad_reload_keeps_the_mapping_in_use(tmp_path: Path) -> None:
    path = write(tmp_path / "mapping.json", {"a": {"tenant": "one"}})
    directory = JsonVODirectory(path)
    before = directory.mapping()
    write(path, '{"a": {"tenant": ')
    with pytest.raises(MappingError, match="not valid JSON"):
        directory.reload()
    assert directory.mapping() is before
    path.unlink()
    with pytest.raises(MappingError, match="cannot read"):
        directory.reload()
    assert directory.mapping() is before


def test_a_bad_file_at_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError):
        JsonVODirectory(write(tmp_path / "mapping.json", "{}"))

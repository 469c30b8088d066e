"""`cloudkeeper-os status` on the devcloud, after syncs: what an operator checks, without glance."""

from __future__ import annotations

import json

from rich.console import Console

from ckos.domain.model import ProjectRef
from ckos.domain.status import ImageStatus, ProjectStatus
from ckos.entrypoints import cli
from ckos.entrypoints.status import _age, _size, tables
from support.sync_site import BUILD, REBUILD, SOURCE, UBUNTU, VO, SyncSite, disk


def test_status_lists_live_and_retired_images_with_their_source(site: SyncSite) -> None:
    site.push(UBUNTU, disk("first"), "24.04", BUILD)
    assert site.sync().status == 0
    site.push(UBUNTU, disk("second", 400_000), "24.04", REBUILD)
    assert site.sync().status == 0
    site.capsys.readouterr()

    status = cli.main(["status", "--config", str(site.config())])

    assert status == 0
    shown = json.loads(site.capsys.readouterr().out)  # not a terminal: JSON
    [project] = [p for p in shown["projects"] if VO in p["vos"]]
    assert project["error"] is None
    identifier = site.identifier(UBUNTU, "24.04")
    rows = [(i["identifier"], i["version"], i["state"], i["size"], i["source"]) for i in project["images"]]
    assert rows == [
        (identifier, REBUILD, "live", 400_000, f"sync {SOURCE}"),
        (identifier, BUILD, "retired", len(disk("first")), f"sync {SOURCE}"),
    ]
    live = site.live()[identifier]
    assert project["images"][0]["image_id"] == live.id
    assert all(0 <= image["age_seconds"] < 600 for image in project["images"])


def test_a_project_that_cannot_be_listed_is_reported_and_fails_the_status(site: SyncSite) -> None:
    site.config_changes["openstack"] = {"glance_endpoint": "http://127.0.0.1:9"}  # nothing listens
    site.capsys.readouterr()

    status = cli.main(["status", "--config", str(site.config()), "--json"])

    assert status == 1
    shown = json.loads(site.capsys.readouterr().out)
    assert all(project["error"] for project in shown["projects"])


def test_sizes_and_ages_read_as_a_person_would() -> None:
    assert [_size(None), _size(512), _size(300_000), _size(3 * 1024**3)] == [
        "-",
        "512 B",
        "293.0 KiB",
        "3.0 GiB",
    ]
    assert [_age(5), _age(125), _age(7200), _age(3 * 86400)] == ["5 s", "2 min", "2 h", "3 d"]


def test_on_a_terminal_each_project_is_a_table() -> None:
    image = ImageStatus(
        "reg/ubuntu:24.04", "EGI Ubuntu 24.04", "2025-09-04", "3f0c-id", "live", 2048, 7200, "sync egi"
    )
    projects = [
        ProjectStatus(ProjectRef(name="fedcloud", domain="default"), ("fedcloud.egi.eu",), (image,)),
        ProjectStatus(
            ProjectRef(name="other", domain="default"), ("vo.example.eu",), (), error="Glance is down"
        ),
    ]
    console = Console(record=True, width=160, color_system=None)
    console.print(*tables(projects))
    text = console.export_text()
    assert "project default/fedcloud (VO fedcloud.egi.eu)" in text
    for cell in ("EGI Ubuntu 24.04", "2025-09-04", "3f0c-id", "live", "2.0 KiB", "2 h", "sync egi"):
        assert cell in text
    assert "project default/other (VO vo.example.eu): could not be listed: Glance is down" in text

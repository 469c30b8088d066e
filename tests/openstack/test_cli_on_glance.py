"""`cloudkeeper-os check` and `cloudkeeper-os migrate` on the devcloud's Glance."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ckos.bootstrap import build
from ckos.config import load
from ckos.entrypoints.cli import main
from support.ckos_config import derived_config
from support.devcloud import DevCloud
from support.glance_admin import GlanceAdmin, cleaned_up, unique_tag
from support.keystone_admin import ScratchProject, scratch_project

VO = "migrate.example.eu"
URI = "https://cloud-images.example.org/almalinux-9.qcow2"
LIST = "d2c4e6f8-0a1b-5c3d-9e4f-6a7b8c9d0e1f"
DATA = bytes(range(256)) * 64
SHA512 = hashlib.sha512(DATA).hexdigest()


def earlier_properties(identifier: str, title: str, *, uri: str = "") -> dict[str, str]:
    """What cloudkeeper-os 0.9 wrote: every appliance field as APPLIANCE_<FIELD>, no image facts."""
    mpuri = f"https://appdb.egi.eu/store/vo/image/{identifier}:42/"
    attributes = {"ad:mpuri": mpuri, "dc:identifier": identifier, "dc:title": title, "ad:vo": VO}
    if uri:
        attributes["hv:uri"] = uri
    return {
        "APPLIANCE_ID": identifier,
        "APPLIANCE_IMAGE_LIST_ID": LIST,
        "APPLIANCE_TITLE": title,
        "APPLIANCE_MPURI": mpuri,
        "APPLIANCE_VO": VO,
        "APPLIANCE_RAM": "2048",
        "APPLIANCE_CORE": "2",
        "APPLIANCE_VERSION": "2020.01.01",
        "APPLIANCE_OPERATING_SYSTEM": "Linux AlmaLinux 9",
        "APPLIANCE_ATTRIBUTES": json.dumps(attributes),
        "vmcatcher_event_ad_mpuri": mpuri,
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    status = main(list(argv))
    return status, capsys.readouterr().out.splitlines()


def test_check_reports_every_mapped_project_ok(
    devcloud: DevCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = run(capsys, "check", "--config", str(devcloud.config_file))
    assert status == 0
    assert sorted(line.split("(VO ")[1].split(")")[0] for line in lines) == sorted(devcloud.vos)
    assert all(line.startswith("ok      project ") and "managed images" in line for line in lines)


def test_check_fails_naming_the_project_it_cannot_reach(
    devcloud: DevCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = {
        "fedcloud.egi.eu": {"project": "fedcloud", "domain": "default"},
        "missing.example.eu": {"project": "no-such-project", "domain": "default"},
    }
    config = derived_config(devcloud.config_file, tmp_path, mapping=mapping, changes={})
    status, lines = run(capsys, "check", "--config", str(config))
    assert status == 1
    [failed] = [line for line in lines if line.startswith("FAILED")]
    assert "no-such-project" in failed
    assert "missing.example.eu" in failed
    assert "Keystone" in failed
    [ok] = [line for line in lines if line.startswith("ok")]
    assert ok.startswith("ok      project default/fedcloud (VO fedcloud.egi.eu): ")


class Earlier:
    """A project holding what the earlier cloudkeeper-os left, and a config of ckos for it."""

    def __init__(
        self, devcloud: DevCloud, project: ScratchProject, tmp_path: Path, tag: str, made: list[str]
    ) -> None:
        self.admin = GlanceAdmin(devcloud)
        self.made = made  # every image made here, for the cleanup
        self.tag = tag
        mapping = {VO: {"project": project.name, "domain": "default"}}
        self.config = derived_config(
            devcloud.config_file, tmp_path, mapping=mapping, changes={"glance": {"tag": tag}}
        )
        live = earlier_properties("app-live", "AlmaLinux 9", uri=URI)
        self.live = self.image(project, live, name="AlmaLinux 9")
        self.old = self.image(project, earlier_properties("app-old", "Old one"), os_hidden=True)
        nova = {"image_type": "snapshot", "instance_uuid": str(uuid.uuid4()), "base_image_ref": self.live}
        self.snapshot = self.image(project, {**self.admin.record(self.live).properties, **nova})

    def image(self, project: ScratchProject, properties: dict[str, str], **fields: Any) -> str:
        self.made.append(self.admin.create(project.id, properties, data=DATA, **fields))
        return self.made[-1]

    def raw(self) -> dict[str, dict[str, Any]]:
        return {image_id: self.admin.raw(image_id) for image_id in self.made}


@pytest.fixture
def earlier(devcloud: DevCloud, tmp_path: Path) -> Iterator[Earlier]:
    tag = unique_tag("ckos-migrate")
    with scratch_project(devcloud, "ckos-migrate") as project:
        made: list[str] = []
        with cleaned_up(GlanceAdmin(devcloud), tag, made):
            yield Earlier(devcloud, project, tmp_path, tag, made)


def test_migrate_shows_the_plan_and_changes_nothing(
    earlier: Earlier, capsys: pytest.CaptureFixture[str]
) -> None:
    before = earlier.raw()
    status, lines = run(capsys, "migrate", "--config", str(earlier.config))
    assert status == 0
    assert lines[-1] == "would adopt (run again with --apply): 2 image(s)"
    planned = "\n".join(lines[:-1])
    assert earlier.live in planned
    assert earlier.old in planned
    assert earlier.snapshot not in planned
    assert "APPLIANCE_IMAGE_CHECKSUM" in planned
    assert "APPLIANCE_STATUS" in planned
    assert earlier.raw() == before


def test_migrate_apply_adopts_the_appliances_and_leaves_the_snapshot(
    earlier: Earlier, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = earlier.admin.raw(earlier.snapshot)
    status, lines = run(capsys, "migrate", "--config", str(earlier.config), "--apply")
    assert (status, lines[-1]) == (0, "adopted: 2 image(s)")
    live, old = earlier.admin.record(earlier.live), earlier.admin.record(earlier.old)
    assert earlier.tag in live.tags
    assert earlier.tag in old.tags
    assert (live.properties["APPLIANCE_STATUS"], old.properties["APPLIANCE_STATUS"]) == ("ACTIVE", "EOL")
    assert live.properties["APPLIANCE_IMAGE_CHECKSUM"] == SHA512
    attributes = earlier_properties("app-live", "AlmaLinux 9", uri=URI)["APPLIANCE_ATTRIBUTES"]
    assert live.properties["APPLIANCE_ATTRIBUTES"] == attributes  # kept as the earlier tool wrote it
    # The core 1.x map, as the core-1 layout stores it: compact, sorted.
    assert live.properties["APPLIANCE_DIGEST"] == json.dumps(
        json.loads(attributes), sort_keys=True, separators=(",", ":")
    )
    # The image URI is the list's hv:uri; the marketplace URI only when the map has none.
    assert live.properties["APPLIANCE_IMAGE_URI"] == URI
    assert old.properties["APPLIANCE_IMAGE_URI"] == old.properties["APPLIANCE_MPURI"]
    assert earlier.admin.raw(earlier.snapshot) == snapshot

    backend = build(load(earlier.config)).backend
    assert backend.image_lists() == [LIST]
    [appliance] = backend.appliances(LIST)  # the hidden, end-of-life one is not offered
    assert (appliance.identifier, appliance.title, appliance.ram, appliance.vo) == (
        "app-live",
        "AlmaLinux 9",
        2048,
        VO,
    )
    assert appliance.image is not None
    assert appliance.mpuri
    assert appliance.image.uri == URI
    assert (appliance.image.checksum, appliance.image.size) == (SHA512, len(DATA))

    # Nothing is left to adopt.
    status, lines = run(capsys, "migrate", "--config", str(earlier.config))
    assert (status, lines) == (0, ["would adopt (run again with --apply): 0 image(s)"])

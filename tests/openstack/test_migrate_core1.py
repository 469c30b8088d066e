"""The upgrade of a core 1.x site on the devcloud's real Glance: the next core run sends nothing.

A site ran the earlier cloudkeeper-os with a core 1.x; its images are as that tool left them
(the attributes map as 0.9.9's APPLIANCE_ATTRIBUTES JSON, or as the fork's one property per
HEPiX key). After `cloudkeeper-os migrate --apply`, the daemon serves the core-1 layout over the
same Glance and a simulated core 1.x, deciding as the real one does (the whole map compared),
runs the same list: it must make no AddAppliance nor UpdateAppliance, and Glance no upload.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from attrs import define, evolve

from ckos.adapters.glance.migration import core1_digest, earlier_attributes
from ckos.bootstrap import build
from ckos.config import load
from ckos.entrypoints.cli import main
from ckos.entrypoints.grpc._generated_core1 import cloudkeeper_grpc as core1_wire
from ckos.entrypoints.grpc.layouts import from_core1
from support import core, core1
from support.catalog_state import GlanceState
from support.ckos_config import derived_config
from support.devcloud import DevCloud
from support.glance_admin import GlanceAdmin, cleaned_up, unique_tag
from support.grpc_server import running_server
from support.keystone_admin import ScratchProject, scratch_project
from support.site import CENTOS, DEBIAN, LIST_ID, LISTS, OVA, UBUNTU

FORMS = ("0.9.9", "fork-head")
LISTING = [("PreAction", ""), ("ImageLists", ""), ("Appliances", LIST_ID), ("PostAction", "")]
LIVE = (UBUNTU, CENTOS, OVA)  # DEBIAN has expired in the list: the core never sent it
MIB = 1048576
_RENAMED = {"identifier": "APPLIANCE_ID", "image_list_identifier": "APPLIANCE_IMAGE_LIST_ID"}


def image_list() -> core.ImageList:
    """The v1 fixture, with text the earlier tool's JSON wrote as escapes and an empty value."""
    listed = core.ImageList.load(LISTS["v1"])
    description = {"dc:description": "CentOS 7 (1905) générique — ✓ « cloud »"}
    entries = (
        {**entry, **description} if entry["dc:identifier"] == CENTOS else entry for entry in listed.entries
    )
    return evolve(listed, entries=tuple(entries))


def python2_json(attributes: Mapping[str, str]) -> str:
    """Python 2's json.dumps(dict(map)): ASCII escapes, ", " and ": ", in no particular order."""
    scrambled = dict(sorted(attributes.items(), key=lambda item: hash(item[0])))
    return json.dumps(scrambled)


def earlier_properties(listed: core.ImageList, entry: Mapping[str, str], form: str) -> dict[str, str]:
    """What the earlier cloudkeeper-os wrote for the Appliance the core 1.x sent for the entry.

    Every field the core set (proto3 ListFields: not the defaults) as APPLIANCE_<FIELD> =
    str(value), the attributes map in the form under test, the mpuri for cloud-info-provider
    and the status; never the image (cleared before).
    """
    properties = {
        _RENAMED.get(name, f"APPLIANCE_{name.upper()}"): str(value)
        for name, value in core.appliance_fields(listed, entry).items()
        if value not in ("", 0)
    }
    attributes = core1.attributes(entry)
    if form == "0.9.9":
        properties["APPLIANCE_ATTRIBUTES"] = python2_json(attributes)
    else:
        properties.update(attributes)
    properties["vmcatcher_event_ad_mpuri"] = entry["ad:mpuri"]
    properties["APPLIANCE_STATUS"] = "ACTIVE"
    return properties


@define
class EarlierSite:
    """A project as the earlier cloudkeeper-os left it after a core 1.x synced the list."""

    devcloud: DevCloud
    project: ScratchProject
    admin: GlanceAdmin
    tag: str
    config: Path
    spool: Path
    listed: core.ImageList
    images: dict[str, str]  # appliance identifier -> image id, the live ones
    retired: str  # the image of Ubuntu's previous version, EOL

    def state(self) -> GlanceState:
        return GlanceState(self.admin.images, owners=[self.project.id], tag=self.tag)

    def migrate(self, capsys: pytest.CaptureFixture[str], *options: str) -> list[str]:
        status = main(["migrate", "--config", str(self.config), *options])
        lines = capsys.readouterr().out.splitlines()
        assert status == 0, lines
        return lines

    def core_run(self, listed: core.ImageList | None = None) -> core.Run:
        """One run of a core 1.x against the daemon serving the core-1 layout over this Glance."""
        configured = load(self.config)
        settings = evolve(
            configured,
            server=evolve(configured.server, protocol="core-1"),
            images=evolve(
                configured.images, local_directories=(*configured.images.local_directories, self.spool)
            ),
        )
        app = build(settings)
        with running_server(app.backend, settings.server) as target:
            return core1.run(target, listed or self.listed, self.spool, now=int(time.time()))

    def live(self) -> dict[str, dict[str, Any]]:
        return {identifier: self.admin.raw(image_id) for identifier, image_id in self.images.items()}


def earlier_site(
    devcloud: DevCloud, project: ScratchProject, tmp_path: Path, tag: str, made: list[str], form: str
) -> EarlierSite:
    admin = GlanceAdmin(devcloud)
    listed = image_list()
    mapping = {listed.vo: {"project": project.name, "domain": "default"}}
    config = derived_config(devcloud.config_file, tmp_path, mapping=mapping, changes={"glance": {"tag": tag}})
    spool = tmp_path / "spool"
    spool.mkdir()

    def create(entry: Mapping[str, str], properties: dict[str, str]) -> str:
        made.append(
            admin.create(
                project.id,
                properties,
                data=core.image_bytes(entry),  # the file the core offered, converted to QCOW2
                name=entry["dc:title"],
                disk_format=core.offered_format(entry, ("QCOW2",)).lower(),
                container_format="bare",
                visibility="private",
                min_ram=int(entry["hv:ram_minimum"]) // MIB,
            )
        )
        return made[-1]

    images = {
        identifier: create(
            listed.entry(identifier), earlier_properties(listed, listed.entry(identifier), form)
        )
        for identifier in LIVE
    }
    previous = {**listed.entry(UBUNTU), "hv:version": "2019.01.01", "hv:uri": "http://127.0.0.1:8080/old.img"}
    retired = create(previous, {**earlier_properties(listed, previous, form), "APPLIANCE_STATUS": "EOL"})
    return EarlierSite(devcloud, project, admin, tag, config, spool, listed, images, retired)


@pytest.fixture(params=FORMS)
def site(request: pytest.FixtureRequest, devcloud: DevCloud, tmp_path: Path) -> Iterator[EarlierSite]:
    tag = unique_tag("ckos-migrate-core1")
    with scratch_project(devcloud, "ckos-migrate-core1") as project:
        made: list[str] = []
        with cleaned_up(GlanceAdmin(devcloud), tag, made):
            yield earlier_site(devcloud, project, tmp_path, tag, made, request.param)


def data_facts(image: Mapping[str, Any]) -> tuple[object, ...]:
    return image["id"], image["status"], image["size"], image["checksum"], image["os_hash_value"]


def test_after_migrate_the_core_1x_run_sends_no_appliance(
    site: EarlierSite, capsys: pytest.CaptureFixture[str]
) -> None:
    before = site.live()
    planned = site.migrate(capsys)
    for identifier in LIVE:
        [line] = [line for line in planned if site.images[identifier] in line]
        assert "APPLIANCE_DIGEST" in line
        assert "APPLIANCE_IMAGE_URI" in line
    assert planned[-1] == "would adopt (run again with --apply): 4 image(s)"

    assert site.migrate(capsys, "--apply")[-1] == "adopted: 4 image(s)"
    adopted = site.live()
    for identifier, image in adopted.items():
        entry = site.listed.entry(identifier)
        assert image["APPLIANCE_DIGEST"] == core1_digest(core1.attributes(entry))
        assert image["APPLIANCE_IMAGE_URI"] == entry["hv:uri"]
        assert json.loads(image["APPLIANCE_ATTRIBUTES"]) == core1.attributes(entry)
        assert image["ad:appid"] == entry["ad:appid"]
        assert data_facts(image) == data_facts(before[identifier])
    state = site.state()
    steady = state.snapshot()  # waits out the second of the last write, so any later one shows
    assert isinstance(steady, list)

    run = site.core_run()

    assert run.sequence() == LISTING
    assert set(run.statuses().values()) == {core1.SUCCESS}
    assert run.exit_code == 0
    echoed = {appliance.identifier: appliance for appliance in run.appliances}
    assert sorted(echoed) == sorted(LIVE)  # the retired one is not offered
    for identifier, appliance in echoed.items():
        entry = site.listed.entry(identifier)
        assert dict(appliance.attributes) == core1.attributes(entry)
        assert (appliance.image.uri, appliance.image.size) == (entry["hv:uri"], len(core.image_bytes(entry)))
    # No upload, no change: the live images are exactly as migrate left them (the retired one
    # may be collected at PostAction, as the earlier tool deleted EOL images).
    after = {image["id"]: image for image in state.raw()}
    assert set(after) <= {image["id"] for image in steady}
    assert {identifier: after[image_id] for identifier, image_id in site.images.items()} == adopted
    assert DEBIAN not in echoed


def test_a_changed_entry_is_still_updated_after_migrate(
    site: EarlierSite, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: the simulator compares what the daemon echoes, so a real difference shows."""
    site.migrate(capsys, "--apply")
    changed = [
        {**entry, "sl:comments": "now with a comment"} if entry["dc:identifier"] == CENTOS else entry
        for entry in site.listed.entries
    ]
    run = site.core_run(evolve(site.listed, entries=tuple(changed)))
    assert run.sequence() == [*LISTING[:3], ("UpdateAppliance", CENTOS), LISTING[3]]
    assert set(run.statuses().values()) == {core1.SUCCESS}
    assert site.live()[CENTOS]["id"] == site.images[CENTOS]  # metadata only: no new image


def test_without_the_carried_map_the_core_1x_sends_every_image_again(
    site: EarlierSite, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue as reported: adopted images echoing no map are all sent again, with their image."""
    site.migrate(capsys, "--apply")
    for image_id in site.images.values():
        site.admin.images.update(image_id, remove_props=["APPLIANCE_DIGEST"])
    run = site.core_run()
    assert run.sequence()[:3] == LISTING[:3]
    assert sorted(run.sequence()[3:-1]) == sorted(("UpdateAppliance", identifier) for identifier in LIVE)
    assert {appliance.identifier: dict(appliance.attributes) for appliance in run.appliances} == {
        identifier: {} for identifier in LIVE
    }


def test_unreadable_attributes_leave_the_digest_unset_and_say_so(
    devcloud: DevCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = unique_tag("ckos-migrate-core1")
    with scratch_project(devcloud, "ckos-migrate-core1") as project:
        made: list[str] = []
        with cleaned_up(GlanceAdmin(devcloud), tag, made):
            site = earlier_site(devcloud, project, tmp_path, tag, made, "0.9.9")
            broken = {UBUNTU: "{'dc:title': 'not JSON'}", CENTOS: '{"hv:size": 196616}', OVA: '["a list"]'}
            for identifier, text in broken.items():
                site.admin.images.update(site.images[identifier], APPLIANCE_ATTRIBUTES=text)
            before = site.live()

            lines = site.migrate(capsys, "--apply")

            for identifier in LIVE:
                [line] = [line for line in lines if site.images[identifier] in line]
                assert "APPLIANCE_DIGEST" not in line
                assert "APPLIANCE_IMAGE_CHECKSUM" in line
                note = lines[lines.index(line) + 1]
                assert note.startswith("  note: ")
                assert "APPLIANCE_DIGEST left unset" in note
            notes = "\n".join(lines)
            assert "not JSON" in notes
            assert "not a JSON object of strings" in notes
            after = site.live()
            for identifier, image in after.items():
                assert "APPLIANCE_DIGEST" not in image
                assert image["APPLIANCE_ATTRIBUTES"] == broken[identifier]  # left as it was
                assert site.tag in image["tags"]
                assert data_facts(image) == data_facts(before[identifier])


@pytest.mark.parametrize("form", FORMS)
def test_the_digest_is_what_the_core_1_layout_stores_for_the_same_map(form: str) -> None:
    listed = image_list()
    entry = listed.entry(CENTOS)
    properties = earlier_properties(listed, entry, form)
    stored = from_core1(core1_wire.Appliance(identifier=CENTOS, attributes=core1.attributes(entry))).digest
    assert earlier_attributes(properties) == core1.attributes(entry)
    assert core1_digest(earlier_attributes(properties)) == stored

"""`cloudkeeper-os sync` from a real OCI registry into the devcloud's real Glance."""

from __future__ import annotations

import fcntl
import json
import os

from support.sync_site import BUILD, REBUILD, SOURCE, UBUNTU, SyncSite, disk, one_source


def test_a_first_sync_adds_each_short_tag_as_one_live_image_with_what_downstream_reads(
    site: SyncSite,
) -> None:
    noble, jammy = disk("24.04"), disk("22.04")
    site.push(UBUNTU, noble, "24.04", BUILD)
    site.push(UBUNTU, jammy, "22.04", BUILD)

    result = site.sync()

    assert result.status == 0, result.err
    figures = one_source(result)
    assert figures | {"problems": []} == figures
    assert (figures["complete"], figures["added"], figures["failed"]) == (True, 2, 0)
    assert result.summary["uploaded_bytes"] == len(noble) + len(jammy)
    live = site.live()
    identifier = site.identifier(UBUNTU, "24.04")
    assert sorted(live) == sorted([identifier, site.identifier(UBUNTU, "22.04")])  # long tags filtered out
    record = live[identifier]
    assert site.state.data(record.id) == noble
    properties = record.properties
    assert properties["vmcatcher_event_ad_mpuri"].startswith(f"{identifier}-sha256:")
    attributes = json.loads(properties["APPLIANCE_ATTRIBUTES"])
    assert attributes["eu.egi.cloud.image_ref"] == f"{UBUNTU}:24.04"
    assert attributes["eu.egi.cloud.tag"] == BUILD
    assert (properties["os_distro"], properties["os_version"], properties["architecture"]) == (
        "ubuntu",
        "24.04",
        "x86_64",
    )
    assert (properties["os_type"], properties["os_admin_user"]) == ("linux", "ubuntu")
    assert properties["APPLIANCE_VERSION"] == BUILD
    assert record.disk_format == "qcow2"
    assert site.leftovers() == []


def test_a_steady_state_sync_downloads_nothing_writes_nothing_and_asks_little(site: SyncSite) -> None:
    site.push(UBUNTU, disk("24.04"), "24.04", BUILD)
    site.push(UBUNTU, disk("22.04"), "22.04", BUILD)
    assert site.sync().status == 0
    before = site.state.snapshot()
    asked = len(site.registry.requests())

    result = site.sync()

    assert result.status == 0, result.err
    figures = one_source(result)
    assert (figures["added"], figures["updated"], figures["metadata_updated"], figures["retired"]) == (
        0,
        0,
        0,
        0,
    )
    assert figures["unchanged"] == 2
    assert result.summary["uploaded_bytes"] == 0
    assert site.state.snapshot() == before
    requests = site.registry.requests()[asked:]
    # One tag listing for the repository, one HEAD per matching tag, nothing else (no manifest, no blob).
    assert sorted(line.split(" ")[0] + " " + line.split(" ")[1].split("/")[-2] for line in requests) == [
        "GET tags",
        "HEAD manifests",
        "HEAD manifests",
    ]


def test_a_rebuild_updates_the_appliance_create_then_retire(site: SyncSite) -> None:
    site.push(UBUNTU, disk("first"), "24.04", BUILD)
    assert site.sync().status == 0
    identifier = site.identifier(UBUNTU, "24.04")
    old = site.live()[identifier]
    site.push(UBUNTU, disk("second"), "24.04", REBUILD)  # the short tag moves to the new build

    result = site.sync()

    assert result.status == 0, result.err
    assert (one_source(result)["updated"], one_source(result)["added"]) == (1, 0)
    new = site.live()[identifier]
    assert new.id != old.id
    assert site.state.data(new.id) == disk("second")
    assert new.properties["APPLIANCE_VERSION"] == REBUILD
    assert [record.id for record in site.ours("EOL")[identifier]] == [old.id]
    assert site.unfinished() == []


def test_a_tag_gone_from_the_registry_is_retired(site: SyncSite) -> None:
    for version in ("20.04", "22.04", "24.04"):
        site.push(UBUNTU, disk(version), version, BUILD)
    assert site.sync().status == 0
    site.registry.delete_tag(UBUNTU, "20.04")

    result = site.sync()

    assert result.status == 0, result.err
    assert one_source(result)["retired"] == 1
    assert site.identifier(UBUNTU, "20.04") not in site.live()
    assert site.identifier(UBUNTU, "20.04") in site.ours("EOL")


def test_a_dry_run_shows_the_plan_and_touches_nothing(site: SyncSite) -> None:
    site.push(UBUNTU, disk("24.04"), "24.04", BUILD)
    before = site.state.snapshot()
    asked = len(site.registry.requests())

    result = site.sync("--dry-run")

    assert result.status == 0, result.err
    figures = one_source(result)
    assert figures["added"] == 1
    assert [item["identifier"] for item in figures["plan"]["add"]] == [site.identifier(UBUNTU, "24.04")]
    assert result.summary["uploaded_bytes"] == 0
    assert site.state.snapshot() == before
    assert not site.work_dir.exists() or not any(site.work_dir.rglob("*"))
    assert not any("/blobs/" in line for line in site.registry.requests()[asked:])

    human = site.sync("--dry-run", json_output=False)
    assert f"would add {site.identifier(UBUNTU, '24.04')}" in human.out


def test_an_unreachable_registry_removes_nothing_and_fails(site: SyncSite) -> None:
    site.push(UBUNTU, disk("24.04"), "24.04", BUILD)
    assert site.sync().status == 0
    before = site.state.snapshot()
    site.registry.stop()

    result = site.sync()

    assert result.status == 1
    figures = one_source(result)
    assert (figures["complete"], figures["retired"]) == (False, 0)
    assert "cannot" in " ".join(figures["problems"]).lower() or figures["problems"]
    assert site.state.snapshot() == before
    site.registry.start()
    assert site.sync().status == 0


def test_one_bad_manifest_fails_that_tag_applies_the_rest_and_removes_nothing(site: SyncSite) -> None:
    site.push(UBUNTU, disk("22.04"), "22.04", BUILD)
    assert site.sync().status == 0
    bad = site.push(UBUNTU, disk("24.04"), "24.04", BUILD)
    site.push(UBUNTU, disk("26.04"), "26.04", BUILD)
    site.registry.delete_tag(UBUNTU, "22.04")  # would be retired, were the source read completely
    site.registry.corrupt_blob(bad.manifest_digest)

    result = site.sync()

    assert result.status == 1
    figures = one_source(result)
    assert (figures["complete"], figures["added"], figures["retired"]) == (False, 1, 0)
    assert any("24.04" in problem for problem in figures["problems"]), figures["problems"]
    assert sorted(site.live()) == sorted([site.identifier(UBUNTU, "22.04"), site.identifier(UBUNTU, "26.04")])


def test_a_blob_not_matching_its_digest_leaves_the_old_image_live_and_no_orphan(site: SyncSite) -> None:
    site.push(UBUNTU, disk("first"), "24.04", BUILD)
    assert site.sync().status == 0
    identifier = site.identifier(UBUNTU, "24.04")
    old = site.live()[identifier]
    rebuilt = site.push(UBUNTU, disk("second"), "24.04", REBUILD)
    site.registry.corrupt_blob(rebuilt.layer_digest)

    result = site.sync()

    assert result.status == 1
    figures = one_source(result)
    assert (figures["complete"], figures["failed"], figures["updated"]) == (True, 1, 0)
    assert any("digest" in problem or "checksum" in problem for problem in figures["problems"])
    assert site.live()[identifier].id == old.id
    assert site.unfinished() == []
    assert site.leftovers() == []


def test_an_artifact_pushed_without_annotations_is_refused_clearly(site: SyncSite) -> None:
    site.push(
        UBUNTU, disk("24.04"), "24.04", BUILD, annotations={"org.opencontainers.image.title": "x.qcow2"}
    )

    result = site.sync()

    assert result.status == 1
    figures = one_source(result)
    assert figures["complete"] is False
    assert any("eu.egi.cloud.tag" in problem for problem in figures["problems"])
    assert site.live() == {}


def test_an_oversized_layer_is_refused(site: SyncSite) -> None:
    site.push(UBUNTU, disk("24.04", 200_000), "24.04", BUILD)
    site.sync_options["max_image_size"] = 100_000

    result = site.sync()

    assert result.status == 1
    assert any("max_image_size" in problem for problem in one_source(result)["problems"])
    assert site.live() == {}


def test_removals_beyond_the_budget_are_held_until_allowed(site: SyncSite) -> None:
    for version in ("18.04", "20.04", "22.04", "24.04"):
        site.push(UBUNTU, disk(version), version, BUILD)
    assert site.sync().status == 0
    for version in ("18.04", "20.04", "22.04"):
        site.registry.delete_tag(UBUNTU, version)
    before = site.state.snapshot()

    held = site.sync()

    assert held.status == 3
    assert (one_source(held)["retired"], one_source(held)["removals_held"]) == (0, 3)
    assert site.state.snapshot() == before
    allowed = site.sync("--allow-mass-removal")
    assert allowed.status == 0, allowed.err
    assert one_source(allowed)["retired"] == 3
    assert sorted(site.live()) == [site.identifier(UBUNTU, "24.04")]


def test_a_second_sync_while_one_holds_the_lock_exits_4(site: SyncSite) -> None:
    site.push(UBUNTU, disk("24.04"), "24.04", BUILD)
    config = site.config()
    lock = site.folder / "sync.lock"
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        result = site.sync()
    finally:
        os.close(descriptor)
    assert config.exists()
    assert result.status == 4
    assert "held by another sync" in result.err
    assert site.live() == {}


def test_the_metrics_file_holds_the_run_figures(site: SyncSite) -> None:
    site.push(UBUNTU, disk("24.04"), "24.04", BUILD)

    assert site.sync().status == 0

    text = site.metrics_file.read_text()
    assert f'cloudkeeper_os_sync_source_complete{{source="{SOURCE}"}} 1.0' in text
    assert f'cloudkeeper_os_sync_changes{{change="added",source="{SOURCE}"}} 1.0' in text
    assert "cloudkeeper_os_sync_last_success_timestamp_seconds " in text
    assert not list(site.metrics_file.parent.glob("*.tmp*"))

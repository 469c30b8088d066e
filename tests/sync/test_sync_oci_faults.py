"""`cloudkeeper-os sync` from a real registry when things go wrong: each run ends with a clear
message and status, the old images stay live, no orphan image or temp file is left, and the
next run converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from ckos.adapters.sources.oci_registry import OciRegistry
from support.disk_images import CONTENT, DiskImages
from support.glance_proxy import GlanceProxy
from support.registry import PASSWORD, USERNAME, running_registry
from support.sync_site import BUILD, REBUILD, UBUNTU, SyncSite, disk, one_source


def test_glance_refusing_an_upload_half_way_leaves_the_old_image_live(site: SyncSite) -> None:
    site.push(UBUNTU, disk("first"), "24.04", BUILD)
    assert site.sync().status == 0
    identifier = site.identifier(UBUNTU, "24.04")
    old = site.live()[identifier]
    site.push(UBUNTU, disk("second", 2_000_000), "24.04", REBUILD)
    with GlanceProxy(site.cloud.glance_url) as proxy:
        site.config_changes["openstack"] = {"glance_endpoint": proxy.url}
        proxy.refuse_uploads = 413

        refused = site.sync()

        assert refused.status == 1
        figures = one_source(refused)
        assert (figures["complete"], figures["failed"], figures["updated"]) == (True, 1, 0)
        assert any("413" in problem for problem in figures["problems"]), figures["problems"]
        assert site.live()[identifier].id == old.id
        assert site.unfinished() == []
        proxy.refuse_uploads = None
        assert site.sync().status == 0
    assert site.state.data(site.live()[identifier].id) == disk("second", 2_000_000)


def test_a_tag_moved_during_the_run_is_read_as_it_was_resolved(
    site: SyncSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.push(UBUNTU, disk("first"), "24.04", BUILD)
    newer = site.push(UBUNTU, disk("second"), "24.04-next", REBUILD)  # pushed, not yet tagged 24.04
    resolve = OciRegistry.manifest_digest

    def resolve_then_move(registry: OciRegistry, repository: str, tag: str) -> str:
        digest = resolve(registry, repository, tag)
        if tag == "24.04":  # the build pipeline moves the tag right after we resolved it
            site.registry.move_tag(UBUNTU, "24.04", newer.manifest_digest)
        return digest

    monkeypatch.setattr(OciRegistry, "manifest_digest", resolve_then_move)
    first = site.sync()
    monkeypatch.undo()

    assert first.status == 0, first.err
    identifier = site.identifier(UBUNTU, "24.04")
    assert site.state.data(site.live()[identifier].id) == disk("first")  # one build, never a mix
    second = site.sync()
    assert (second.status, one_source(second)["updated"]) == (0, 1)
    assert site.state.data(site.live()[identifier].id) == disk("second")


def test_a_conversion_failing_leaves_no_image_and_no_file(site: SyncSite) -> None:
    site.push(UBUNTU, disk("not really a qcow2"), "24.04", BUILD)
    site.sync_options["formats"] = ["raw"]

    result = site.sync()

    assert result.status == 1
    figures = one_source(result)
    assert (figures["complete"], figures["failed"], figures["added"]) == (True, 1, 0)
    assert any("qcow2" in problem for problem in figures["problems"]), figures["problems"]
    assert site.records() == []
    assert site.leftovers() == []


def test_images_are_converted_to_the_format_the_site_wants(site: SyncSite, tmp_path: Path) -> None:
    qcow2 = DiskImages(tmp_path / "images").made("ubuntu.qcow2", "qcow2").read_bytes()
    site.push(UBUNTU, qcow2, "24.04", BUILD)
    site.sync_options["formats"] = ["raw"]

    result = site.sync()

    assert result.status == 0, result.err
    record = site.live()[site.identifier(UBUNTU, "24.04")]
    assert (record.disk_format, record.container_format) == ("raw", "bare")
    assert site.state.data(record.id) == CONTENT
    assert result.summary["uploaded_bytes"] == len(CONTENT)
    assert site.leftovers() == []
    steady = site.sync()  # judged on the registry's digests: nothing converted or uploaded again
    assert (steady.status, one_source(steady)["unchanged"], steady.summary["uploaded_bytes"]) == (0, 1, 0)


@pytest.mark.parametrize("mode", ["token", "htpasswd"])
def test_a_registry_that_wants_credentials_gets_them_from_the_password_file(
    site: SyncSite, tmp_path: Path, mode: str
) -> None:
    password_file = tmp_path / "registry.password"
    password_file.write_text(PASSWORD + "\n")
    with running_registry(tmp_path / f"registry-{mode}", mode=mode) as registry:  # type: ignore[arg-type]
        site.registry = registry
        site.push(UBUNTU, disk("24.04"), "24.04", BUILD)
        site.oci.update(username=USERNAME, password_file=str(password_file))

        result = site.sync()

        assert result.status == 0, result.err
        assert one_source(result)["added"] == 1
        site.oci["password_file"] = str(tmp_path / "wrong")
        (tmp_path / "wrong").write_text("not the password")
        refused = site.sync()
        assert refused.status == 1
        assert one_source(refused)["complete"] is False
        assert PASSWORD not in refused.out + refused.err + result.out + result.err
        assert "not the password" not in refused.out + refused.err
        assert len(site.live()) == 1  # nothing removed for a source that could not be read

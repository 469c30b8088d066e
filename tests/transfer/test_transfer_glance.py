"""LOCAL and REMOTE images into the real Glance through AddAppliance / UpdateAppliance, sent as the
core sends them: what Glance then holds, and what a failed transfer leaves behind (nothing: no
image, no temporary file, no open file, the old image still live, no credentials anywhere)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from attrs import evolve

from support.certificates import authority
from support.devcloud import DevCloud
from support.image_server import Fault, ImageServer, SeenRequest
from support.offers import MIB, UPDATED, Offer, random_bytes, remote, sha512
from support.process_state import settled
from support.transfer_site import TransferSite, check_still_live, established, transfer_site

OK = grpc.StatusCode.OK


def offered(site: TransferSite, server: ImageServer, mode: str, data: bytes, **changes: Any) -> Offer:
    if mode == "LOCAL":
        return site.local("app-1", data, **changes)
    return remote(server, "app-1", data, **changes)


def check_glance_holds(site: TransferSite, identifier: str, data: bytes) -> dict[str, Any]:
    image = site.live()[identifier]
    assert (image["status"], image["size"]) == ("active", len(data))
    assert (image["os_hash_algo"], image["os_hash_value"]) == ("sha512", sha512(data))
    assert image["owner"] == site.owner
    assert site.data(image["id"]) == data
    return image


def test_a_local_image_is_streamed_into_glance_verified_and_live(site: TransferSite) -> None:
    data = random_bytes(3 * MIB + 12345)  # several of glanceclient's 1 MiB reads, and a part
    offer = site.local("app-local", data)
    before = site.baseline()
    outcome = site.offer("AddAppliance", offer)
    assert outcome.code is OK, outcome.details
    image = check_glance_holds(site, "app-local", data)
    assert (image["disk_format"], image["container_format"]) == ("qcow2", "bare")
    assert image["APPLIANCE_IMAGE_CHECKSUM"] == sha512(data)
    assert Path(offer.location).read_bytes() == data  # read in place, never moved or changed
    site.check_clean(before, added=1)


@pytest.mark.parametrize("in_url", [False, True], ids=["auth-fields", "auth-in-url"])
def test_a_remote_image_is_streamed_with_basic_auth(
    site: TransferSite, server: ImageServer, in_url: bool
) -> None:
    data = random_bytes(3 * MIB + 777)
    offer = remote(server, "app-remote", data, in_url=in_url)
    before = site.baseline()
    outcome = site.offer("AddAppliance", offer)
    assert outcome.code is OK, outcome.details
    check_glance_holds(site, "app-remote", data)
    assert [request.authorized for request in server.requests] == [True]
    assert settled(lambda: server.open_connections == 0), "the download's connection is still open"
    site.check_clean(before, added=1)
    site.check_secret_free(server.username, server.password)


def test_an_https_source_is_trusted_through_the_configured_ca_bundle_only(
    devcloud: DevCloud, tmp_path: Path
) -> None:
    ca = authority(tmp_path)
    data = random_bytes(MIB)
    identity = ca.issue("images.example.org", server=True)
    with ImageServer(str(uuid.uuid4()), str(uuid.uuid4()), tls=identity) as server:

        def trusting(images: Any) -> Any:
            return evolve(images, remote_ca_bundle=ca.certificate)

        with transfer_site(devcloud, tmp_path / "trusting", images=trusting) as site:
            outcome = site.offer("AddAppliance", remote(server, "app-1", data))
            assert outcome.code is OK, outcome.details
            check_glance_holds(site, "app-1", data)
            site.check_secret_free(server.username, server.password)

        with transfer_site(devcloud, tmp_path / "default") as site:  # the system's CAs only
            before = site.baseline()
            outcome = site.offer("AddAppliance", remote(server, "app-1", data))
            assert outcome.code is grpc.StatusCode.UNAVAILABLE
            assert "certificate" in outcome.details.lower()
            assert site.creations == before.creations
            site.check_clean(before)


@pytest.mark.parametrize("mode", ["LOCAL", "REMOTE"])
def test_a_checksum_mismatch_deletes_the_new_image_and_keeps_the_old_one(
    site: TransferSite, server: ImageServer, mode: str
) -> None:
    image_id, first = established(site)
    data = random_bytes(2 * MIB)
    wrong = sha512(b"another image")
    offer = offered(site, server, mode, data, checksum=wrong, **UPDATED)
    before = site.baseline()
    outcome = site.offer("UpdateAppliance", offer)
    assert outcome.code is grpc.StatusCode.FAILED_PRECONDITION
    assert wrong in outcome.details
    assert sha512(data) in outcome.details
    assert site.creations == before.creations + 1  # the image was made, then deleted
    check_still_live(site, "app-1", image_id, first)
    site.check_clean(before)
    if mode == "REMOTE":
        site.check_secret_free(server.username, server.password)


@pytest.mark.parametrize(("mode", "error"), [("LOCAL", -1), ("LOCAL", +1), ("REMOTE", -1), ("REMOTE", +1)])
def test_a_size_mismatch_deletes_the_new_image_and_keeps_the_old_one(
    site: TransferSite, server: ImageServer, mode: str, error: int
) -> None:
    image_id, first = established(site)
    data = random_bytes(MIB + 4096)
    announced = len(data) + error
    offer = offered(site, server, mode, data, size=announced, **UPDATED)
    before = site.baseline()
    outcome = site.offer("UpdateAppliance", offer)
    assert outcome.code is grpc.StatusCode.FAILED_PRECONDITION
    assert str(announced) in outcome.details
    if error > 0:  # read to the end: the actual size is known
        assert str(len(data)) in outcome.details
    else:  # stopped as soon as more came than announced
        assert "larger than" in outcome.details
    check_still_live(site, "app-1", image_id, first)
    site.check_clean(before)


def test_a_source_refusing_the_credentials_creates_nothing(site: TransferSite, server: ImageServer) -> None:
    image_id, first = established(site)
    offer = remote(server, "app-1", random_bytes(MIB), password=str(uuid.uuid4()), **UPDATED)
    before = site.baseline()
    outcome = site.offer("UpdateAppliance", offer)
    assert outcome.code is grpc.StatusCode.UNAVAILABLE
    assert "401" in outcome.details
    assert [request.authorized for request in server.requests] == [False]
    assert site.creations == before.creations, "Glance was touched for an unreadable source"
    check_still_live(site, "app-1", image_id, first)
    site.check_clean(before)
    site.check_secret_free(server.username, offer.password)


def test_a_source_dying_mid_stream_leaves_nothing_behind(site: TransferSite, server: ImageServer) -> None:
    image_id, first = established(site)
    server.fault = Fault(die_after=MIB + 4096)
    offer = remote(server, "app-1", random_bytes(3 * MIB), **UPDATED)
    before = site.baseline()
    outcome = site.offer("UpdateAppliance", offer)
    assert outcome.code is grpc.StatusCode.UNAVAILABLE
    assert "download failed" in outcome.details
    check_still_live(site, "app-1", image_id, first)
    assert settled(lambda: server.open_connections == 0)
    site.check_clean(before)
    site.check_secret_free(server.username, server.password)


def test_a_slow_source_is_waited_for_and_a_stalled_one_times_out(
    devcloud: DevCloud, tmp_path: Path, server: ImageServer
) -> None:
    def short_timeout(images: Any) -> Any:
        return evolve(images, remote_read_timeout=0.5)

    with transfer_site(devcloud, tmp_path, images=short_timeout) as site:
        slow = random_bytes(MIB)
        server.fault = Fault(delay=0.1, chunk=128 * 1024)  # 0.8 s in all, never 0.5 s without data
        outcome = site.offer("AddAppliance", remote(server, "app-1", slow))
        assert outcome.code is OK, outcome.details
        image_id = check_glance_holds(site, "app-1", slow)["id"]
        first = Offer("app-1", slow, "")

        server.fault = Fault(gate_after=256 * 1024)  # then silence until the test ends
        before = site.baseline()
        outcome = site.offer("UpdateAppliance", remote(server, "app-1", random_bytes(MIB), **UPDATED))
        assert outcome.code is grpc.StatusCode.UNAVAILABLE
        assert "timed out" in outcome.details.lower()
        check_still_live(site, "app-1", image_id, first)
        site.check_clean(before)


@pytest.mark.parametrize("how", ["outside", "symlink", "dot-dot"])
def test_a_file_outside_the_allowed_directories_is_refused_before_glance_is_touched(
    site: TransferSite, tmp_path: Path, how: str
) -> None:
    image_id, first = established(site)
    data = random_bytes(64 * 1024)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.img").write_bytes(data)
    location = {
        "outside": str(elsewhere / "secret.img"),
        "symlink": str(site.spool / "link.img"),
        "dot-dot": f"{site.spool}/../elsewhere/secret.img",
    }[how]
    if how == "symlink":
        (site.spool / "link.img").symlink_to(elsewhere / "secret.img")
    before = site.baseline()
    outcome = site.offer("UpdateAppliance", Offer("app-1", data, location, **UPDATED))
    assert outcome.code is grpc.StatusCode.PERMISSION_DENIED
    assert "allowed" in outcome.details
    assert site.creations == before.creations, "Glance was touched for a forbidden file"
    check_still_live(site, "app-1", image_id, first)
    site.check_clean(before)


def test_a_host_not_allowed_is_refused_before_any_request(
    devcloud: DevCloud, tmp_path: Path, server: ImageServer
) -> None:
    def elsewhere_only(images: Any) -> Any:
        return evolve(images, remote_allowed_hosts=("images.example.org",))

    with transfer_site(devcloud, tmp_path, images=elsewhere_only) as site:
        image_id, first = established(site)
        before = site.baseline()
        outcome = site.offer("UpdateAppliance", remote(server, "app-1", random_bytes(MIB), **UPDATED))
        assert outcome.code is grpc.StatusCode.PERMISSION_DENIED
        assert "127.0.0.1" in outcome.details
        assert server.requests == []
        assert site.creations == before.creations
        check_still_live(site, "app-1", image_id, first)
        site.check_clean(before)
        site.check_secret_free(server.username, server.password)


@pytest.mark.parametrize("rpc", ["AddAppliance", "UpdateAppliance"])
def test_glance_already_holding_the_bytes_means_no_transfer(
    site: TransferSite, server: ImageServer, rpc: str
) -> None:
    data = random_bytes(MIB)
    outcome = site.offer("AddAppliance", site.local("app-1", data))
    assert outcome.code is OK, outcome.details
    image_id = site.live()["app-1"]["id"]
    again = remote(server, "app-1", data, title="A new title", digest="appliance-digest-2")
    before = site.baseline()
    outcome = site.offer(rpc, again)
    assert outcome.code is OK, outcome.details
    assert server.requests == [], "the source was read although Glance holds its bytes"
    assert site.creations == before.creations
    site.check_clean(before)
    live = site.live()["app-1"]
    assert (live["id"], live["name"], live["os_hash_value"]) == (image_id, "A new title", sha512(data))
    (entry,) = site.appliances()
    assert entry.digest == "appliance-digest-2"


@pytest.mark.parametrize(
    ("wire", "disk", "container"),
    [("QCOW2", "qcow2", "bare"), ("RAW", "raw", "bare"), ("VMDK", "vmdk", "bare"), ("OVA", "vmdk", "ova")],
)
def test_each_offered_format_is_stored_in_its_glance_formats(
    site: TransferSite, wire: str, disk: str, container: str
) -> None:
    data = random_bytes(64 * 1024 + 1)
    offer = site.local(f"app-{wire.lower()}", data, format=wire)
    outcome = site.offer("AddAppliance", offer)
    assert outcome.code is OK, outcome.details
    image = check_glance_holds(site, offer.identifier, data)
    assert (image["disk_format"], image["container_format"]) == (disk, container)
    assert image["APPLIANCE_IMAGE_FORMAT"] == wire
    (entry,) = site.appliances()
    assert entry.image.format == offer.message().image.format


def test_a_format_glance_does_not_offer_is_refused_before_anything_is_created(site: TransferSite) -> None:
    schema = site.admin.schema_client.get("image").raw()["properties"]["disk_format"]["enum"]
    assert "vdi" not in schema, "the devcloud's Glance should lack vdi (see its glance-api.conf)"
    offer = site.local("app-vdi", random_bytes(64 * 1024), format="VDI")
    before = site.baseline()
    outcome = site.offer("AddAppliance", offer)
    assert outcome.code is grpc.StatusCode.FAILED_PRECONDITION
    assert "vdi" in outcome.details
    site.check_clean(before)
    assert site.appliances() == []


def test_seen_requests_are_recorded(server: ImageServer) -> None:
    """The test server itself: a request without credentials is refused and recorded."""
    server.offer("/x", b"data")
    assert httpx.get(server.url("/x")).status_code == 401
    assert httpx.get(server.url("/x"), auth=(server.username, server.password)).content == b"data"
    assert server.requests == [SeenRequest("/x", authorized=False), SeenRequest("/x", authorized=True)]

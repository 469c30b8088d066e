"""`cloudkeeper-os sync` from signed HEPiX lists (loopback http and https) into the devcloud's Glance.

The failure modes of the peers (sync-sources.md §5) as regression tests: whatever goes wrong with
the list or one image, nothing is removed, what can be done is done, the exit status is 1, and the
next good run converges (variants of a fault, such as a missing CRL besides a stale one, are tested
in tests/hepix without Glance). And a site switching from the core keeps its images: nothing
uploaded, nothing written to Glance (core 2.0), or the digests back-filled in place (core 1.x).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ckos.adapters.sources.hepix.mapping import snapshot_from_list
from support import core1, hepix_core
from support.certificates import authority
from support.devcloud import DevCloud
from support.disk_images import OVF, DiskImages, ova
from support.hepix_lists import FIXTURE_LISTS, STRANGER, ListPki, disk, entry, image_list, make_pki
from support.hepix_site import LIST_PATH, SOURCE, HepixSite, hepix_site
from support.site import Site, make_glance_site
from support.sync_site import SyncResult
from support.web_server import WebServer, closed_port_url

DAY = 86_400
TOKEN = "appdb-7c0ffee-token"


def iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> ListPki:
    return make_pki(tmp_path_factory.mktemp("hepix-pki"))


@pytest.fixture
def site(
    devcloud: DevCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str], lists: ListPki
) -> Iterator[HepixSite]:
    with (
        WebServer() as web,
        hepix_site(
            devcloud, tmp_path, capsys, lists, tag=f"ckos-hepix-{uuid.uuid4().hex[:12]}", web=web
        ) as made,
    ):
        yield made


def figures(result: SyncResult) -> dict[str, Any]:
    [source] = result.summary["sources"]
    assert source["name"] == SOURCE
    return dict(source)


def counts(result: SyncResult) -> tuple[object, ...]:
    found = figures(result)
    return tuple(found[name] for name in ("added", "updated", "metadata_updated", "retired", "failed"))


class Catalogue:
    """Two states of one list: v1 (A, C) and v2 (A with a new image, C gone, D new)."""

    def __init__(self, site: HepixSite) -> None:
        now = time.time()
        self.site = site
        self.data = {"a1": disk("a1"), "a2": disk("a2"), "c": disk("c"), "d": disk("d")}
        self.urls = {name: site.offer(f"{name}.img", data) for name, data in self.data.items()}
        self.v1 = image_list(
            [self._entry("A", "a1", "1"), self._entry("C", "c", "1")],
            created=iso(now - 2 * DAY),
            version="1",
        )
        self.v2 = image_list(
            [self._entry("A", "a2", "2"), self._entry("D", "d", "1")],
            created=iso(now - DAY),
            version="2",
        )

    def _entry(self, identifier: str, name: str, version: str) -> dict[str, str]:
        return entry(identifier, self.data[name], self.urls[name], version=version)

    def assert_v1(self) -> None:
        live = self.site.live()
        assert sorted(live) == ["A", "C"]
        assert self.site.state.data(live["A"].id) == self.data["a1"]

    def assert_v2(self) -> None:
        live = self.site.live()
        assert sorted(live) == ["A", "D"]
        assert self.site.state.data(live["A"].id) == self.data["a2"]
        assert sorted(self.site.ours("EOL")) == ["A", "C"]  # the old image of A, and C: retired
        assert self.site.unfinished() == []


def test_a_list_over_https_with_the_appdb_token_is_synced_then_a_steady_state_writes_nothing(
    devcloud: DevCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str], lists: ListPki
) -> None:
    tls = authority(tmp_path / "tls")
    token_file = tmp_path / "appdb.token"
    token_file.write_text(TOKEN + "\n")
    expected = "Basic " + base64.b64encode(f"{TOKEN}:x-oauth-basic".encode()).decode()
    with (
        WebServer(tls=tls.issue("appdb", server=True)) as web,
        WebServer() as images,  # the images are elsewhere, on plain http
        hepix_site(
            devcloud, tmp_path, capsys, lists, tag=f"ckos-hepix-{uuid.uuid4().hex[:12]}", web=web
        ) as site,
    ):
        site.hepix.update(token_file=str(token_file), ca_bundle=str(tls.certificate), crl="required")
        web.require[LIST_PATH] = expected
        ubuntu, centos = disk("ubuntu", 70_000), disk("centos", 50_000)
        urls = {"ubuntu": "/ubuntu-24.04.img", "centos": "/centos-9.img"}
        images.files.update({urls["ubuntu"]: ubuntu, urls["centos"]: centos})
        content = image_list(
            [
                entry("ubuntu", ubuntu, images.url(urls["ubuntu"]), version="24.04", title="Ubuntu 24.04"),
                entry("centos", centos, images.url(urls["centos"]), version="9", image_format="QCOW2"),
            ],
            created=iso(time.time() - DAY),
            version="20261201",
        )
        site.publish(content)

        result = site.sync()

        assert result.status == 0, result.err
        assert counts(result) == (2, 0, 0, 0, 0)
        assert figures(result)["complete"] is True
        assert result.summary["uploaded_bytes"] == len(ubuntu) + len(centos)
        live = site.live()
        assert site.state.data(live["ubuntu"].id) == ubuntu
        properties = live["ubuntu"].properties
        [offer, _] = snapshot_from_list(content, source_name="x", vo=None, now=int(time.time()))[0].offers
        assert properties["APPLIANCE_DIGEST"] == offer.appliance.digest  # the core 2.0's own digests
        assert offer.appliance.image is not None
        assert properties["APPLIANCE_IMAGE_DIGEST"] == offer.appliance.image.digest
        assert properties["APPLIANCE_IMAGE_CHECKSUM"] == hashlib.sha512(ubuntu).hexdigest()
        assert live["ubuntu"].name == "Ubuntu 24.04"
        assert (live["ubuntu"].disk_format, live["centos"].disk_format) == ("raw", "qcow2")
        assert web.requests == [(LIST_PATH, expected)]
        assert sorted(images.requests) == [(urls["centos"], None), (urls["ubuntu"], None)]  # no token
        assert TOKEN not in result.out + result.err
        assert json.loads(site.history.read_text())["hv:version"] == "20261201"

        before = site.state.snapshot()
        again = site.sync()

        assert again.status == 0, again.err
        assert counts(again) == (0, 0, 0, 0, 0)
        assert figures(again)["unchanged"] == 2
        assert site.state.snapshot() == before
        assert len(images.requests) == 2  # nothing downloaded


def unreachable(site: HepixSite, catalogue: Catalogue) -> Callable[[], None]:
    site.hepix["url"] = closed_port_url(LIST_PATH)
    return lambda: site.hepix.pop("url")


def failing(site: HepixSite, catalogue: Catalogue) -> Callable[[], None]:
    site.web.status[LIST_PATH] = 502
    return site.web.status.clear


def tampered(site: HepixSite, catalogue: Catalogue) -> Callable[[], None]:
    signed = site.web.files[LIST_PATH]
    site.web.files[LIST_PATH] = signed.replace(b'"D"', b'"E"', 1)
    return lambda: site.web.files.update({LIST_PATH: signed})


def revoked(site: HepixSite, catalogue: Catalogue) -> Callable[[], None]:
    site.publish(catalogue.v2, site.lists.revoked)
    return lambda: site.publish(catalogue.v2)


def ca_dir(name: str) -> Callable[[HepixSite, Catalogue], Callable[[], None]]:
    def arrange(site: HepixSite, catalogue: Catalogue) -> Callable[[], None]:
        site.hepix["ca_dir"] = str(site.lists.dirs[name])
        return lambda: site.hepix.pop("ca_dir")

    return arrange


def wrong_endorser(site: HepixSite, catalogue: Catalogue) -> Callable[[], None]:
    # Signed by another certificate of the same CA, which the list names as its endorser.
    named = catalogue.v2.replace(b"CN=appdb.example.org", b"CN=someone.example.org")
    assert STRANGER.encode() in named
    site.publish(named, site.lists.stranger)
    return lambda: site.publish(catalogue.v2)


Fault = Callable[[HepixSite, Catalogue], Callable[[], None]]  # arranges the fault, returns its cure
LIST_FAULTS: dict[str, tuple[Fault, str]] = {
    "list unreachable": (unreachable, "could not be fetched"),
    "list server 5xx": (failing, "answered HTTP 502"),
    "signature invalid": (tampered, "does not match its signature"),
    "signer revoked": (revoked, "is revoked"),
    "CRL stale": (ca_dir("stale-crl"), "is stale"),
    "wrong endorser": (wrong_endorser, "not by the endorser"),
}


@pytest.mark.parametrize("fault", LIST_FAULTS, ids=list(LIST_FAULTS))
def test_a_list_that_cannot_be_had_or_trusted_changes_nothing_and_the_next_good_run_converges(
    site: HepixSite, fault: str
) -> None:
    catalogue = Catalogue(site)
    site.publish(catalogue.v1)
    assert site.sync().status == 0
    catalogue.assert_v1()
    site.publish(catalogue.v2)  # A's new image, C gone, D new: if it could be trusted
    arrange, reason = LIST_FAULTS[fault]
    heal = arrange(site, catalogue)
    before, downloads = site.state.snapshot(), len(site.image_requests())

    result = site.sync()

    assert result.status == 1
    assert figures(result)["complete"] is False
    assert counts(result) == (0, 0, 0, 0, 0)
    [problem] = figures(result)["problems"]
    assert reason in problem
    assert site.state.snapshot() == before  # nothing removed, nothing written at all
    assert len(site.image_requests()) == downloads
    assert json.loads(site.history.read_text())["hv:version"] == "1"

    heal()
    healed = site.sync()

    assert healed.status == 0, healed.err
    assert counts(healed) == (1, 1, 0, 1, 0)
    catalogue.assert_v2()
    assert json.loads(site.history.read_text())["hv:version"] == "2"


def test_a_list_rolled_back_to_an_older_one_is_refused_and_changes_nothing(site: HepixSite) -> None:
    catalogue = Catalogue(site)
    site.publish(catalogue.v1)
    assert site.sync().status == 0
    site.publish(catalogue.v2)
    assert site.sync().status == 0
    catalogue.assert_v2()
    before = site.state.snapshot()

    site.publish(catalogue.v1)  # an old, validly signed list served again
    result = site.sync()

    assert result.status == 1
    assert figures(result)["complete"] is False
    assert "older than the last one accepted" in str(figures(result)["problems"])
    assert site.state.snapshot() == before

    site.publish(catalogue.v2)
    healed = site.sync()
    assert healed.status == 0, healed.err
    assert counts(healed) == (0, 0, 0, 0, 0)
    assert site.state.snapshot() == before


def download_failing(site: HepixSite, catalogue: Catalogue) -> Callable[[], None]:
    site.web.status["/images/a2.img"] = 500
    return site.web.status.clear


def checksum_wrong(site: HepixSite, catalogue: Catalogue) -> Callable[[], None]:
    path = "/images/a2.img"
    right = site.web.files[path]
    site.web.files[path] = disk("not a2", len(right))  # the announced size, other bytes
    return lambda: site.web.files.update({path: right})


IMAGE_FAULTS: dict[str, tuple[Fault, str]] = {
    "download failing": (download_failing, "HTTP 500"),
    "checksum wrong": (checksum_wrong, "checksum mismatch"),
}


@pytest.mark.parametrize("fault", IMAGE_FAULTS, ids=list(IMAGE_FAULTS))
def test_one_image_failing_keeps_its_old_image_live_while_the_rest_is_applied(
    site: HepixSite, fault: str
) -> None:
    catalogue = Catalogue(site)
    # v2 without the removal of C: nothing at all may go away in this run.
    v2 = image_list(
        [
            entry("A", catalogue.data["a2"], catalogue.urls["a2"], version="2"),
            entry("C", catalogue.data["c"], catalogue.urls["c"], version="1"),
            entry("D", catalogue.data["d"], catalogue.urls["d"], version="1"),
        ],
        created=iso(time.time() - DAY),
        version="2",
    )
    site.publish(catalogue.v1)
    assert site.sync().status == 0
    old_a = site.live()["A"].id
    site.publish(v2)
    arrange, reason = IMAGE_FAULTS[fault]
    heal = arrange(site, catalogue)

    result = site.sync()

    assert result.status == 1
    assert figures(result)["complete"] is True
    assert counts(result) == (1, 0, 0, 0, 1)  # D added; A failed
    assert reason in str(figures(result)["problems"])
    live = site.live()
    assert sorted(live) == ["A", "C", "D"]
    assert live["A"].id == old_a
    assert site.state.data(old_a) == catalogue.data["a1"]
    assert site.ours("EOL") == {}
    assert site.unfinished() == []

    heal()
    healed = site.sync()

    assert healed.status == 0, healed.err
    assert counts(healed) == (0, 1, 0, 0, 0)
    assert site.state.data(site.live()["A"].id) == catalogue.data["a2"]
    assert site.unfinished() == []


@pytest.fixture
def core_site(devcloud: DevCloud, tmp_path: Path) -> Iterator[Site]:
    yield from make_glance_site(tmp_path, devcloud)


@contextmanager
def switching_site(
    core_site: Site, devcloud: DevCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str], lists: ListPki
) -> Iterator[HepixSite]:
    with WebServer() as web:
        site = HepixSite(devcloud, tmp_path, core_site.tag, capsys, core_site.state, lists, web)
        site.publish(FIXTURE_LISTS["v1"].read_bytes())  # the recorded list, byte for byte
        yield site


def test_a_site_switching_from_the_core_2_uploads_nothing_and_writes_nothing_to_glance(
    core_site: Site, devcloud: DevCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str], lists: ListPki
) -> None:
    run = hepix_core.run(core_site.target, FIXTURE_LISTS["v1"], core_site.spool, now=core_site.clock.value)
    assert run.exit_code == 0, run.calls
    assert len(core_site.live()) == 3  # the expired Debian entry was skipped
    with switching_site(core_site, devcloud, tmp_path, capsys, lists) as site:
        before = site.state.snapshot()

        result = site.sync()

        assert result.status == 0, result.err
        assert counts(result) == (0, 0, 0, 0, 0)
        assert figures(result)["unchanged"] == 3
        assert result.summary["uploaded_bytes"] == 0
        assert site.state.snapshot() == before


def test_a_site_switching_from_the_core_1_back_fills_the_digests_in_place_then_writes_nothing(
    core_site: Site, devcloud: DevCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str], lists: ListPki
) -> None:
    with core_site.serving("core-1") as core1_site:
        run = core1.run(core1_site.target, FIXTURE_LISTS["v1"], core_site.spool, now=core_site.clock.value)
    assert run.exit_code == 0, run.calls
    stored = {identifier: record.id for identifier, record in core_site.live().items()}
    data = {identifier: core_site.data(image_id) for identifier, image_id in stored.items()}
    assert len(stored) == 3
    with switching_site(core_site, devcloud, tmp_path, capsys, lists) as site:
        result = site.sync()

        assert result.status == 0, result.err
        assert counts(result) == (0, 0, 3, 0, 0)  # judged as core 1.7.1 did: the same images
        assert result.summary["uploaded_bytes"] == 0
        live = site.live()
        assert {identifier: record.id for identifier, record in live.items()} == stored
        assert {identifier: site.state.data(record.id) for identifier, record in live.items()} == data
        mapped = snapshot_from_list(
            FIXTURE_LISTS["v1"].read_bytes(), source_name="x", vo=None, now=int(time.time())
        )[0]
        digests = {offer.appliance.identifier: offer.appliance.digest for offer in mapped.offers}
        assert all(record.properties["APPLIANCE_DIGEST"] == digests[i] for i, record in live.items())
        before = site.state.snapshot()

        again = site.sync()

        assert again.status == 0, again.err
        assert counts(again) == (0, 0, 0, 0, 0)
        assert figures(again)["unchanged"] == 3
        assert site.state.snapshot() == before


@pytest.mark.parametrize(
    ("formats", "stored"),
    [([], ("vmdk", "ova")), (["raw"], ("raw", "bare"))],
    ids=["as offered", "converted"],
)
def test_an_ova_is_stored_as_the_daemon_stores_it_or_its_disk_converted(
    site: HepixSite, tmp_path: Path, formats: list[str], stored: tuple[str, str]
) -> None:
    content = disk("appliance", 192 * 1024)
    vmdk = DiskImages(tmp_path / "disks").made("disk1.vmdk", "vmdk", content).read_bytes()
    appliance = ova(("appliance.ovf", OVF), ("disk1.vmdk", vmdk))
    url = site.offer("appliance.ova", appliance)
    site.publish(
        image_list(
            [entry("appliance", appliance, url, version="1", image_format="OVA")],
            created=iso(time.time() - DAY),
            version="1",
        )
    )
    site.sync_options["formats"] = formats

    result = site.sync()

    assert result.status == 0, result.err
    assert counts(result) == (1, 0, 0, 0, 0)
    record = site.live()["appliance"]
    assert (record.disk_format, record.container_format) == stored
    assert site.state.data(record.id) == (content if formats else appliance)
    assert figures(result)["uploaded_bytes"] == (len(content) if formats else len(appliance))
    assert site.unfinished() == []
    left = [path for path in site.work_dir.rglob("*") if path.is_file() and "hepix-state" not in path.parts]
    assert left == []


def test_a_dry_run_shows_the_plan_and_touches_nothing_not_even_the_record_of_the_list(
    site: HepixSite,
) -> None:
    catalogue = Catalogue(site)
    site.publish(catalogue.v1)
    assert site.sync().status == 0
    site.publish(catalogue.v2)
    before, downloads, record = site.state.snapshot(), len(site.image_requests()), site.history.read_text()

    result = site.sync("--dry-run")

    assert result.status == 0, result.err
    plan = figures(result)["plan"]
    assert [[item["identifier"] for item in plan[key]] for key in ("add", "update_image", "retire")] == [
        ["D"],
        ["A"],
        ["C"],
    ]
    assert site.state.snapshot() == before
    assert len(site.image_requests()) == downloads
    assert site.history.read_text() == record

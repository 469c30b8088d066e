"""The HEPiX source: a list fetched, verified, checked against its endorser and the last one applied."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from attrs import define, evolve

from ckos.adapters.sources.hepix.fetch import ListFetcher
from ckos.adapters.sources.hepix.history import ListHistory
from ckos.adapters.sources.hepix.source import HepixSource, HepixSourceConfig
from ckos.domain.snapshot import Snapshot, SourceIncomplete
from support import pki
from support.certificates import authority
from support.fakes import ManualClock
from support.hepix_lists import ENDORSER, ISSUER, STRANGER, ListPki, disk, entry, image_list, make_pki
from support.web_server import WebServer, closed_port_url


def iso(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


NOW = int(time.time())  # the test PKI's certificates and CRLs are valid around now
DAY = 86_400
CREATED = iso(NOW - 3 * DAY)
PATH = "/store/vo/vo.example.eu/image.list"
TOKEN = "appdb-token-5f1d2c"


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> ListPki:
    return make_pki(tmp_path_factory.mktemp("hepix-pki"))


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


@define
class Harness:
    lists: ListPki
    web: WebServer
    folder: Path
    clock: ManualClock
    config: HepixSourceConfig
    url: str = ""
    token: str = ""

    def publish(self, content: bytes, signed: Callable[[bytes], bytes] | None = None) -> None:
        self.web.files[PATH] = (signed or self.lists.sign)(content)

    def source(self) -> HepixSource:
        fetcher = ListFetcher(self.url or self.web.url(PATH), token=self.token)
        return HepixSource(self.config, fetcher, ListHistory(self.folder / "hepix-state"), self.clock)

    def read(self) -> Snapshot:
        return self.source().read()

    def refusal(self) -> str:
        with pytest.raises(SourceIncomplete) as refused:
            self.read()
        assert refused.value.partial is None
        return str(refused.value)


@pytest.fixture
def harness(lists: ListPki, web: WebServer, tmp_path: Path) -> Harness:
    config = HepixSourceConfig(
        name="appdb",
        vo="vo.example.eu",
        ca_dir=lists.dirs["igtf"],
        endorser_dn=ENDORSER,
        crl="required",
        max_image_size=1_000_000,
    )
    return Harness(lists, web, tmp_path, ManualClock(int(time.time())), config)  # after the CRLs


def a_list(*, created: str = CREATED, version: str = "20261201100000", **changes: str) -> bytes:
    entries = [
        entry("ubuntu", disk("ubuntu"), "http://images.example.org/ubuntu.img", version="1"),
        entry("debian", disk("debian"), "http://images.example.org/debian.img", version="12"),
    ]
    return image_list(entries, created=created, version=version, **changes)


def test_a_trusted_list_is_mapped_and_remembered_only_once_applied(harness: Harness) -> None:
    harness.publish(a_list())
    source = harness.source()

    snapshot = source.read()

    assert [offer.appliance.identifier for offer in snapshot.offers] == ["ubuntu", "debian"]
    assert (snapshot.vo, snapshot.expired) == ("vo.example.eu", False)
    state = harness.folder / "hepix-state" / "appdb.json"
    assert not state.exists()
    source.applied()
    assert json.loads(state.read_text()) == {
        "dc:identifier": "5c1e0f7a-2b3d-4c5e-8f90-a1b2c3d4e5f6",
        "hv:version": "20261201100000",
        "dc:date:created": CREATED,
        "created": NOW - 3 * DAY,
    }
    assert [path.name for path in state.parent.iterdir()] == ["appdb.json"]  # no temporary left
    assert [offer.appliance.identifier for offer in harness.read().offers] == ["ubuntu", "debian"]


def test_the_opaque_form_and_an_rfc_2253_endorser_are_accepted(harness: Harness) -> None:
    harness.publish(a_list(), signed_by(harness.lists, harness.lists.signer, detached=False))
    harness.config = evolve(
        harness.config,
        endorser_dn="CN=appdb.example.org,O=Example Research Institute,C=GR,DC=tcs,DC=terena,DC=org",
    )
    assert len(harness.read().offers) == 2


def signed_by(lists: ListPki, *signers: pki.Identity, detached: bool = True) -> Callable[[bytes], bytes]:
    def sign(content: bytes) -> bytes:
        return lists.sign(content, *signers, detached=detached)

    return sign


def tampered(h: Harness) -> None:
    h.web.files[PATH] = h.lists.sign(a_list()).replace(b'"debian"', b'"devian"', 1)


def ca_dir(name: str) -> Callable[[Harness], None]:
    def arrange(h: Harness) -> None:
        h.publish(a_list())
        h.config = evolve(h.config, ca_dir=h.lists.dirs[name])

    return arrange


def another_vo(h: Harness) -> None:
    h.publish(a_list())
    h.config = evolve(h.config, vo="fedcloud.egi.eu")


def unreachable(h: Harness) -> None:
    h.url = closed_port_url(PATH)


REFUSALS: dict[str, tuple[Callable[[Harness], None], str]] = {
    "signature invalid": (tampered, "does not match its signature"),
    "signer revoked": (lambda h: h.publish(a_list(), signed_by(h.lists, h.lists.revoked)), "is revoked"),
    "CRL missing": (ca_dir("no-crl"), "no CRL"),
    "CRL stale": (ca_dir("stale-crl"), "CRL for a CA of the signer's chain is stale"),
    "signer is not the endorser": (
        lambda h: h.publish(a_list(endorser_dn=STRANGER), signed_by(h.lists, h.lists.stranger)),
        "not by the endorser",
    ),
    "list names another endorser": (lambda h: h.publish(a_list(endorser_dn=STRANGER)), "is not its signer"),
    "list names another CA": (
        lambda h: h.publish(a_list(endorser_ca="/DC=org/DC=elsewhere/CN=another CA")),
        "is not its signer's issuer",
    ),
    "two signers": (
        lambda h: h.publish(a_list(), signed_by(h.lists, h.lists.signer, h.lists.stranger)),
        "exactly one",
    ),
    "created in the future": (lambda h: h.publish(a_list(created=iso(NOW + 3600))), "in the future"),
    "another VO": (another_vo, "not 'fedcloud.egi.eu'"),
    "list unreachable": (unreachable, "could not be fetched"),
    "list server failing": (lambda h: h.web.status.update({PATH: 503}), "answered HTTP 503"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_a_list_that_cannot_be_trusted_leaves_the_source_incomplete_with_nothing(
    harness: Harness, case: str
) -> None:
    arrange, reason = REFUSALS[case]
    arrange(harness)
    message = harness.refusal()
    assert reason in message
    assert message.startswith("source appdb: ")
    assert not (harness.folder / "hepix-state").exists()


def test_crl_if_present_and_off_are_what_they_say(harness: Harness) -> None:
    harness.publish(a_list())
    harness.config = evolve(harness.config, ca_dir=harness.lists.dirs["no-crl"], crl="if-present")
    assert len(harness.read().offers) == 2
    harness.publish(a_list(), signed_by(harness.lists, harness.lists.revoked))
    harness.config = evolve(harness.config, ca_dir=harness.lists.dirs["igtf"], crl="if-present")
    assert "is revoked" in harness.refusal()
    harness.config = evolve(harness.config, crl="off")
    assert len(harness.read().offers) == 2


def test_a_list_older_than_the_last_applied_is_refused(harness: Harness) -> None:
    applied = iso(NOW - 2 * DAY)
    harness.publish(a_list(created=applied, version="20261202100000"))
    source = harness.source()
    source.read()
    source.applied()

    harness.publish(a_list())  # the day before: replayed
    assert f"older than the last one accepted (created {applied}" in harness.refusal()
    harness.publish(a_list(created=applied, version="20261202000000"))
    assert "older than the last one accepted" in harness.refusal()
    # The same list again, or a newer one, is accepted.
    harness.publish(a_list(created=applied, version="20261202100000"))
    assert len(harness.read().offers) == 2
    harness.publish(a_list(created=iso(NOW - DAY), version="20261203100000"))
    assert len(harness.read().offers) == 2


def test_an_unreadable_record_of_the_last_list_refuses_every_list(harness: Harness) -> None:
    state = harness.folder / "hepix-state"
    state.mkdir()
    (state / "appdb.json").write_text("{not json")
    harness.publish(a_list())
    assert "remove it to accept the list served now" in harness.refusal()


def test_entries_that_cannot_be_verified_as_announced_are_left_out(harness: Harness) -> None:
    big = disk("big", 2_000_000)
    entries = [
        entry("ubuntu", disk("ubuntu"), "http://images.example.org/ubuntu.img", version="1"),
        entry("sizeless", disk("x"), "http://images.example.org/x.img", version="1", **{"hv:size": ""}),
        entry("zero", disk("x"), "http://images.example.org/x.img", version="1", **{"hv:size": "0"}),
        entry("big", big, "http://images.example.org/big.img", version="1"),
        entry("gone", b"", "http://images.example.org/gone.img", version="1", expires=iso(NOW - 60)),
    ]
    harness.publish(image_list(entries, created=CREATED, version="1"))

    with pytest.raises(SourceIncomplete) as incomplete:
        harness.read()

    message = str(incomplete.value)
    assert "3 problem(s)" in message
    assert "sizeless: no hv:size" in message
    assert "big: hv:size 2000000 is more than max_image_size" in message
    assert incomplete.value.partial is not None
    # An expired entry is never transferred: its size does not matter (it is retired if stored).
    assert [o.appliance.identifier for o in incomplete.value.partial.offers] == ["ubuntu", "gone"]


def test_the_token_goes_to_the_list_only_as_appdb_wants_it_and_never_into_messages(
    lists: ListPki, tmp_path: Path
) -> None:
    ca = authority(tmp_path / "tls")
    expected = "Basic " + base64.b64encode(f"{TOKEN}:x-oauth-basic".encode()).decode()
    with WebServer(tls=ca.issue("lists", server=True)) as web:
        web.require[PATH] = expected
        web.files[PATH] = lists.sign(a_list())
        fetcher = ListFetcher(web.url(PATH), token=TOKEN, ca_bundle=ca.certificate)
        assert fetcher.fetch() == web.files[PATH]
        assert web.requests == [(PATH, expected)]

        web.status[PATH] = 403
        with pytest.raises(Exception) as failed:
            fetcher.fetch()
        assert "answered HTTP 403 Forbidden (is token_file right?)" in str(failed.value)
        assert TOKEN not in str(failed.value)
        untrusted = ListFetcher(web.url(PATH), token=TOKEN)  # the system's CAs: not the test CA
        with pytest.raises(Exception) as failed:
            untrusted.fetch()
        assert "could not be fetched" in str(failed.value)
        assert TOKEN not in str(failed.value)


def test_a_token_is_never_sent_in_clear_nor_taken_from_the_url() -> None:
    with pytest.raises(ValueError, match="https only"):
        ListFetcher("http://vmcaster.example.org/image.list", token=TOKEN)
    with pytest.raises(ValueError, match="token_file") as refused:
        ListFetcher(f"https://{TOKEN}:x-oauth-basic@vmcaster.example.org/image.list")
    assert TOKEN not in str(refused.value)
    with pytest.raises(ValueError, match="http"):
        ListFetcher("ftp://vmcaster.example.org/image.list")
    # Without a token, plain http is fine: the signature is what is trusted.
    assert ListFetcher("http://vmcaster.example.org/x/image.list?a=b").label == (
        "http://vmcaster.example.org/x/image.list"
    )


def test_an_expired_list_is_read_whole_and_says_so(harness: Harness) -> None:
    harness.publish(a_list(expires=iso(NOW - 60)))
    snapshot = harness.read()
    assert snapshot.expired
    assert len(snapshot.offers) == 2


def test_the_fixture_endorser_is_the_one_the_pki_signs_with(lists: ListPki) -> None:
    assert lists.signer.subject == ENDORSER
    assert lists.intermediate.subject == ISSUER

"""The sync's planner: the snapshot against the stored appliances, compared as the core does."""

from __future__ import annotations

from attrs import evolve

from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageSource, TransferMode
from ckos.domain.plan import plan
from ckos.domain.snapshot import Offer, Snapshot

NOW = 1_800_000_000
LIST = "oci:egi"


def appliance(identifier: str, *, digest: str = "d", image_digest: str = "i", expires: int = 0) -> Appliance:
    return Appliance(
        identifier=identifier,
        image_list_identifier=LIST,
        vo="fedcloud.egi.eu",
        mpuri=f"registry.egi.eu/{identifier}",
        digest=digest,
        expiration_date=expires,
        image=ImageFacts(
            uri=f"registry.egi.eu/{identifier}@sha256:" + "0" * 64,
            checksum="sha256:" + "1" * 64,
            size=10,
            format=ImageFormat.QCOW2,
            digest=image_digest,
        ),
    )


def snapshot(*appliances: Appliance, expired: bool = False) -> Snapshot:
    offers = tuple(
        Offer(a, ImageSource(TransferMode.REMOTE, f"oci://egi/{a.identifier}")) for a in appliances
    )
    return Snapshot(
        source="egi", image_list_identifier=LIST, vo="fedcloud.egi.eu", offers=offers, expired=expired
    )


def test_each_appliance_lands_in_exactly_one_bucket() -> None:
    stored = [appliance("same"), appliance("meta"), appliance("image"), appliance("gone")]
    offered = snapshot(
        appliance("same"),
        appliance("meta", digest="d2"),
        appliance("image", image_digest="i2", digest="d2"),
        appliance("new"),
    )

    result = plan(offered, stored, complete=True, now=NOW)

    assert [o.appliance.identifier for o in result.add] == ["new"]
    assert [o.appliance.identifier for o in result.update_image] == ["image"]
    assert [o.appliance.identifier for o in result.update_metadata] == ["meta"]
    assert [a.identifier for a in result.retire] == ["gone"]
    assert result.unchanged == ("same",)
    assert result.changes == 4


def test_an_unchanged_snapshot_plans_nothing() -> None:
    stored = [appliance("a"), appliance("b")]
    result = plan(snapshot(*stored), stored, complete=True, now=NOW)
    assert (result.changes, result.unchanged) == (0, ("a", "b"))


def test_an_incomplete_snapshot_never_removes() -> None:
    stored = [appliance("a"), appliance("b")]
    result = plan(snapshot(appliance("a"), appliance("c")), stored, complete=False, now=NOW)
    assert result.retire == ()
    assert [o.appliance.identifier for o in result.add] == ["c"]


def test_an_empty_but_complete_snapshot_retires_everything() -> None:
    stored = [appliance("a"), appliance("b")]
    assert [a.identifier for a in plan(snapshot(), stored, complete=True, now=NOW).retire] == ["a", "b"]


def test_an_expired_list_adds_and_updates_nothing_and_retires_what_it_had() -> None:
    stored = [appliance("a")]
    offered = snapshot(appliance("a", image_digest="i2"), appliance("new"), expired=True)
    result = plan(offered, stored, complete=True, now=NOW)
    assert (result.add, result.update_image, result.update_metadata) == ((), (), ())
    assert [a.identifier for a in result.retire] == ["a"]


def test_an_expired_appliance_is_retired_if_known_and_skipped_if_new() -> None:
    stored = [appliance("old")]
    offered = snapshot(appliance("old", expires=NOW - 1), appliance("new", expires=NOW - 1))
    result = plan(offered, stored, complete=True, now=NOW)
    assert result.add == ()
    assert [a.identifier for a in result.retire] == ["old"]


def test_a_changed_expiry_alone_is_a_metadata_update() -> None:
    stored = [appliance("a", expires=NOW + 100)]
    result = plan(snapshot(evolve(stored[0], expiration_date=NOW + 200)), stored, complete=True, now=NOW)
    assert [o.appliance.identifier for o in result.update_metadata] == ["a"]

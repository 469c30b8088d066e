"""UpdateApplianceMetadata: in place, digest replaced, stored image facts kept."""

from __future__ import annotations

import pytest
from attrs import evolve

from ckos.domain.errors import ApplianceNotFound, CatalogUnavailable, InvalidRequest, UnmappedVO
from support.world import PROJECT, World

CENTOS = "7c3e5a1b-9d2f-5e4a-b6c8-0a1d3f5e7b92"


def test_metadata_update_rewrites_in_place_and_keeps_the_image_digest(world: World) -> None:
    appliance, source = world.offer(CENTOS, b"centos", digest="d1", image_digest="i1")
    image_id = world.backend.add_appliance(appliance, source).image_id
    changed = evolve(
        appliance, title="CentOS 7 (2009)", description="", expiration_date=1, digest="d2", image=None
    )

    assert world.backend.update_appliance_metadata(changed).image_id == image_id

    stored = world.catalog.get_image(PROJECT, image_id).appliance
    assert stored == evolve(changed, image=appliance.image)
    assert stored.image is not None
    assert stored.image.digest == "i1"
    record = world.catalog.record(image_id)
    assert "APPLIANCE_DESCRIPTION" not in record.properties  # emptied fields are removed
    assert record.properties["APPLIANCE_STATUS"] == "ACTIVE"
    assert world.catalog.data(image_id) == b"centos"
    assert len(world.catalog.records()) == 1


def test_metadata_update_ignores_an_image_sent_along(world: World) -> None:
    appliance, source = world.offer(CENTOS, b"centos", image_digest="i1")
    image_id = world.backend.add_appliance(appliance, source).image_id
    other, _ = world.offer(CENTOS, b"other", image_digest="i9", digest="d2")

    world.backend.update_appliance_metadata(other)

    stored = world.catalog.get_image(PROJECT, image_id).appliance
    assert stored.image == appliance.image
    assert stored.digest == "d2"


def test_metadata_update_back_fills_an_image_digest_the_stored_facts_lack(world: World) -> None:
    # An image of the core 1.x era: no image digest. The sync, finding its image unchanged,
    # updates the metadata with the core 2.0's digests: from then on it compares by digests.
    appliance, source = world.offer(CENTOS, b"centos", image_digest="")
    image_id = world.backend.add_appliance(appliance, source).image_id
    offered, _ = world.offer(CENTOS, b"centos", image_digest="i2", digest="d2")

    world.backend.update_appliance_metadata(offered)

    stored = world.catalog.get_image(PROJECT, image_id).appliance
    assert stored.image is not None
    assert appliance.image is not None
    assert stored.image == evolve(appliance.image, digest="i2")
    assert world.catalog.data(image_id) == b"centos"


def test_metadata_update_of_an_unknown_appliance_is_not_found(world: World) -> None:
    appliance, _ = world.offer(CENTOS, b"centos")

    with pytest.raises(ApplianceNotFound, match=CENTOS):
        world.backend.update_appliance_metadata(evolve(appliance, image=None))


def test_metadata_update_of_a_retired_appliance_is_not_found(world: World) -> None:
    appliance, source = world.offer(CENTOS, b"centos")
    world.backend.add_appliance(appliance, source)
    world.backend.remove_appliance(appliance)

    with pytest.raises(ApplianceNotFound):
        world.backend.update_appliance_metadata(evolve(appliance, digest="d2"))


@pytest.mark.parametrize(
    ("change", "error"),
    [({"identifier": ""}, InvalidRequest), ({"mpuri": ""}, InvalidRequest), ({"vo": "nope"}, UnmappedVO)],
)
def test_bad_metadata_updates_change_nothing(
    world: World, change: dict[str, str], error: type[Exception]
) -> None:
    appliance, source = world.offer(CENTOS, b"centos")
    image_id = world.backend.add_appliance(appliance, source).image_id
    before = world.catalog.records()

    with pytest.raises(error):
        world.backend.update_appliance_metadata(evolve(appliance, digest="d2", **change))  # type: ignore[arg-type]

    assert world.catalog.records() == before
    assert world.catalog.get_image(PROJECT, image_id).appliance.digest == "d1"


def test_catalog_failure_during_metadata_update_is_reported(world: World) -> None:
    appliance, source = world.offer(CENTOS, b"centos")
    world.backend.add_appliance(appliance, source)
    world.catalog.faults.fail_next("update_metadata", CatalogUnavailable("glance is down"))

    with pytest.raises(CatalogUnavailable):
        world.backend.update_appliance_metadata(evolve(appliance, digest="d2"))

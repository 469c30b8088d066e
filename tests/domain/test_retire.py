"""RemoveAppliance, RemoveImageList and expiry retire images; they never delete them."""

from __future__ import annotations

import pytest
from attrs import evolve

from ckos.domain.errors import CatalogUnavailable, InvalidRequest
from support.world import LIST, OTHER_VO, World

A, B, C = "aaaaaaaa-0000-5000-8000-000000000001", "bbbbbbbb-0000-5000-8000-000000000002", "cccc-3"
OTHER_LIST = "list-of-fedcloud"


def test_remove_retires_the_live_image_which_then_is_not_listed(world: World) -> None:
    appliance, source = world.offer(A, b"a")
    image_id = world.backend.add_appliance(appliance, source).image_id

    assert world.backend.remove_appliance(evolve(appliance, image=None)).retired == (image_id,)

    record = world.catalog.record(image_id)
    assert record.properties["APPLIANCE_STATUS"] == "EOL"
    assert record.os_hidden is True
    assert record.properties["APPLIANCE_RETIRED_AT"] == str(world.clock.value)
    assert world.backend.appliances(LIST) == []
    assert world.backend.image_lists() == []


def test_removing_an_unknown_appliance_changes_nothing(world: World) -> None:
    appliance, _ = world.offer(A, b"a")

    assert world.backend.remove_appliance(appliance).retired == ()
    assert world.catalog.records() == []


def test_remove_needs_identifier_and_vo(world: World) -> None:
    appliance, _ = world.offer(A, b"a")

    with pytest.raises(InvalidRequest):
        world.backend.remove_appliance(evolve(appliance, identifier=""))


def test_remove_image_list_retires_that_list_only(world: World) -> None:
    for identifier in (A, B):
        world.backend.add_appliance(*world.offer(identifier, identifier.encode()))
    world.backend.add_appliance(*world.offer(C, b"c", vo=OTHER_VO, image_list=OTHER_LIST))

    assert len(world.backend.remove_image_list(LIST).retired) == 2

    assert world.backend.image_lists() == [OTHER_LIST]
    assert world.live(A) == world.live(B) == []
    assert len(world.live(C)) == 1


def test_remove_unknown_image_list_is_a_no_op(world: World) -> None:
    world.backend.add_appliance(*world.offer(A, b"a"))

    assert world.backend.remove_image_list("no-such-list").retired == ()
    assert len(world.live(A)) == 1


def test_remove_image_list_needs_an_identifier(world: World) -> None:
    with pytest.raises(InvalidRequest):
        world.backend.remove_image_list("")


def test_expired_appliances_are_retired_and_the_rest_kept(world: World) -> None:
    now = world.clock.value
    world.backend.add_appliance(*world.offer(A, b"a", expiration_date=now - 1))
    world.backend.add_appliance(*world.offer(B, b"b", expiration_date=now + 3600))
    world.backend.add_appliance(*world.offer(C, b"c", expiration_date=0))

    world.backend.remove_expired_appliances()

    assert world.live(A) == []
    assert len(world.live(B)) == len(world.live(C)) == 1


def test_expiry_listing_failure_in_any_project_fails_and_retires_nothing(world: World) -> None:
    now = world.clock.value
    world.backend.add_appliance(*world.offer(A, b"a", expiration_date=now - 1))
    world.catalog.faults.fail_next("list_images", CatalogUnavailable("glance is down"))

    with pytest.raises(CatalogUnavailable):
        world.backend.remove_expired_appliances()

    assert len(world.live(A)) == 1

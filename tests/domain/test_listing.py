"""ImageLists and Appliances: every live appliance, across all projects, never partial."""

from __future__ import annotations

import pytest
from attrs import evolve

from ckos.domain.errors import CatalogPermissionDenied, CatalogUnavailable, InvalidRequest
from support.world import LIST, OTHER_PROJECT, OTHER_VO, World

A, B = "aaaaaaaa-0000-5000-8000-000000000001", "bbbbbbbb-0000-5000-8000-000000000002"


def test_image_lists_spans_every_mapped_project(world: World) -> None:
    world.backend.add_appliance(*world.offer(A, b"a"))
    world.backend.add_appliance(*world.offer(B, b"b", vo=OTHER_VO, image_list="fed-list"))

    assert world.backend.image_lists() == sorted([LIST, "fed-list"])


def test_appliances_returns_the_stored_appliances_of_that_list_only(world: World) -> None:
    a, a_source = world.offer(A, b"a")
    world.backend.add_appliance(a, a_source)
    world.backend.add_appliance(*world.offer(B, b"b", vo=OTHER_VO, image_list="fed-list"))

    assert world.backend.appliances(LIST) == [a]
    assert world.backend.appliances("unknown") == []


@pytest.mark.parametrize("error", [CatalogUnavailable("down"), CatalogPermissionDenied("401")])
def test_a_failing_project_fails_the_whole_listing(world: World, error: Exception) -> None:
    world.backend.add_appliance(*world.offer(A, b"a"))
    world.catalog.faults.fail_project(OTHER_PROJECT, error)

    with pytest.raises(type(error)):
        world.backend.image_lists()
    with pytest.raises(type(error)):
        world.backend.appliances(LIST)


def test_two_live_images_of_one_appliance_are_reported_once_the_newest(world: World) -> None:
    first, first_source = world.offer(A, b"a1")
    world.backend.add_appliance(first, first_source)
    second, second_source = world.offer(A, b"a2", digest="d2")
    world.clock.value += 10
    project = world.backend.ctx.directory.mapping().project_for(second.vo)
    # A retire that failed after the new image went live leaves two live images.
    image_id = world.catalog.create_image(project, second)
    with world.files.open(second_source) as stream:
        world.catalog.upload(project, image_id, stream)
    world.catalog.mark_active(project, image_id)

    assert world.backend.appliances(LIST) == [second]


def test_appliances_needs_a_list_identifier(world: World) -> None:
    with pytest.raises(InvalidRequest):
        world.backend.appliances("")


def test_retired_appliances_are_not_reported(world: World) -> None:
    appliance, source = world.offer(A, b"a")
    world.backend.add_appliance(appliance, source)
    world.backend.remove_appliance(evolve(appliance, image=None))

    assert world.backend.appliances(LIST) == []


def test_check_projects_reports_each_project_and_its_failure(world: World) -> None:
    world.backend.add_appliance(*world.offer(A, b"a"))
    world.catalog.faults.fail_project(OTHER_PROJECT, CatalogUnavailable("glance is down"))

    checks = {str(check.project): check for check in world.backend.check_projects()}

    assert checks["default/example"].ok
    assert checks["default/example"].images == 1
    assert checks["default/example"].vos == ("vo.example.eu",)
    assert not checks["default/fedcloud"].ok
    assert "glance is down" in checks["default/fedcloud"].error

"""Collection in PostAction and RemoveExpiredAppliances: delete only what is due and unused."""

from __future__ import annotations

from attrs import evolve

from ckos.domain.model import ImageState
from support.world import World

A = "aaaaaaaa-0000-5000-8000-000000000001"


def _retired(world: World) -> str:
    appliance, source = world.offer(A, b"a")
    image_id = world.backend.add_appliance(appliance, source).image_id
    world.backend.remove_appliance(evolve(appliance, image=None))
    return image_id


def test_retired_images_are_kept_for_the_grace_period_then_deleted(world: World) -> None:
    image_id = _retired(world)

    assert world.backend.post_action().deleted == ()
    world.clock.value += 3600
    assert world.backend.post_action().deleted == (image_id,)
    assert world.catalog.records() == []


def test_images_in_use_are_kept_and_deleted_once_released(world: World) -> None:
    image_id = _retired(world)
    world.clock.value += 3600
    world.catalog.mark_in_use(image_id)

    collection = world.backend.remove_expired_appliances()

    assert collection.kept_in_use == (image_id,)
    assert [record.id for record in world.catalog.records()] == [image_id]
    world.catalog.mark_in_use(image_id, in_use=False)
    assert world.backend.post_action().deleted == (image_id,)


def test_live_images_are_never_collected(world: World) -> None:
    world.backend.add_appliance(*world.offer(A, b"a"))
    world.clock.value += 10**9

    assert world.backend.post_action().deleted == ()
    assert len(world.live(A)) == 1


def test_stale_unfinished_images_of_ours_are_collected(world: World) -> None:
    appliance, _ = world.offer(A, b"a")
    project = world.backend.ctx.directory.mapping().project_for(appliance.vo)
    queued = world.catalog.create_image(project, appliance)
    killed = world.catalog.create_image(project, appliance)
    world.catalog.set_state(killed, ImageState.KILLED)

    assert world.backend.post_action().deleted == (killed,)
    world.clock.value += 7200
    assert world.backend.post_action().deleted == (queued,)


def test_an_image_being_uploaded_by_this_process_is_never_collected(world: World) -> None:
    appliance, _ = world.offer(A, b"a")
    project = world.backend.ctx.directory.mapping().project_for(appliance.vo)
    image_id = world.catalog.create_image(project, appliance)
    world.catalog.set_state(image_id, ImageState.KILLED)

    with world.backend.ctx.in_flight.track(image_id):
        assert world.backend.post_action().deleted == ()
    assert world.backend.post_action().deleted == (image_id,)


def test_snapshots_with_copied_properties_are_never_touched(world: World) -> None:
    image_id = _retired(world)
    project = world.backend.ctx.directory.mapping().project_for("vo.example.eu")
    snapshot = world.catalog.add_snapshot(project, image_id)
    world.clock.value += 10**6

    world.backend.remove_expired_appliances()

    assert [record.id for record in world.catalog.records()] == [snapshot]


def test_collection_counts_our_images_by_lifecycle_state(world: World) -> None:
    retired = _retired(world)
    world.backend.add_appliance(*world.offer("bbbbbbbb-0000-5000-8000-000000000002", b"b"))
    appliance, _ = world.offer("cccc-3", b"c")
    world.catalog.create_image(world.backend.ctx.directory.mapping().project_for(appliance.vo), appliance)

    outcome = world.backend.post_action()
    assert outcome.census == {"live": 1, "retired": 1, "unfinished": 1}

    world.clock.value += 3600
    outcome = world.backend.remove_expired_appliances()
    assert outcome.deleted == (retired,)
    assert outcome.census == {"live": 1, "retired": 0, "unfinished": 1}

"""Two processes on one catalog (two daemons, or a daemon and a sync run): every call correct.

Each test lets the other process's call run at the worst moment of this one's, through the
shared catalog: the in-process appliance locks do not reach across processes.
"""

from __future__ import annotations

from attrs import evolve

from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.domain.backend import Backend
from ckos.domain.context import ApplianceLocks, InFlight
from support.interleave import Interleaved
from support.world import World

A = "aaaaaaaa-0000-5000-8000-000000000001"


def _other_process(world: World) -> Backend:
    """A second backend on the same catalog, with locks and in-flight images of its own."""
    return Backend(evolve(world.backend.ctx, locks=ApplianceLocks(), in_flight=InFlight()))


def _this_process(world: World) -> tuple[Backend, Interleaved]:
    catalog = Interleaved(world.catalog)
    return Backend(evolve(world.backend.ctx, catalog=catalog)), catalog


def _retired(world: World) -> str:
    appliance, source = world.offer(A, b"a")
    image_id = world.backend.add_appliance(appliance, source).image_id
    world.backend.remove_appliance(evolve(appliance, image=None))
    world.clock.value += 3600  # past the grace
    return image_id


def _ids(catalog: MemoryCatalog) -> list[str]:
    return [record.id for record in catalog.records()]


def test_a_collection_that_finds_the_image_already_collected_is_done(world: World) -> None:
    _retired(world)
    this, catalog = _this_process(world)
    other = _other_process(world)
    catalog.before("delete_image", other.post_action)

    outcome = this.post_action()

    assert outcome.deleted == ()  # the other one deleted it
    assert _ids(world.catalog) == []
    assert outcome.census == {"live": 0, "retired": 0, "unfinished": 0}


def test_expiry_racing_a_collection_is_done_too(world: World) -> None:
    image_id = _retired(world)
    this, catalog = _this_process(world)
    catalog.before("delete_image", _other_process(world).remove_expired_appliances)

    outcome = this.remove_expired_appliances()

    assert (outcome.retired, outcome.deleted) == ((), ())
    assert image_id not in _ids(world.catalog)


def test_expiry_skips_an_image_retired_and_collected_meanwhile(world: World) -> None:
    appliance, source = world.offer(A, b"a", expiration_date=world.clock.value + 10)
    image_id = world.backend.add_appliance(appliance, source).image_id
    world.clock.value += 3600
    this, catalog = _this_process(world)
    other = _other_process(world)

    def retire_and_collect() -> None:
        other.remove_appliance(evolve(appliance, image=None))
        world.clock.value += 3600
        other.post_action()

    catalog.before("get_image", retire_and_collect)

    outcome = this.remove_expired_appliances()

    assert outcome.retired == ()
    assert image_id not in _ids(world.catalog)


def test_expiry_does_not_retire_an_appliance_renewed_meanwhile(world: World) -> None:
    appliance, source = world.offer(A, b"a", expiration_date=world.clock.value + 10)
    image_id = world.backend.add_appliance(appliance, source).image_id
    world.clock.value += 60
    this, catalog = _this_process(world)
    renewed = evolve(appliance, expiration_date=world.clock.value + 10**6)
    catalog.before("get_image", lambda: _other_process(world).update_appliance_metadata(renewed))

    assert this.remove_expired_appliances().retired == ()
    assert world.live(A) == [image_id]


def test_removing_an_appliance_whose_image_vanished_meanwhile_is_done(world: World) -> None:
    appliance, source = world.offer(A, b"a")
    world.backend.add_appliance(appliance, source)
    this, catalog = _this_process(world)
    other = _other_process(world)

    def remove_and_collect() -> None:
        other.remove_appliance(evolve(appliance, image=None))
        world.clock.value += 3600
        other.post_action()

    catalog.before("retire", remove_and_collect)

    this.remove_appliance(evolve(appliance, image=None))

    assert world.live(A) == []
    assert _ids(world.catalog) == []


def test_two_processes_adding_one_appliance_at_once_leave_one_live_image(world: World) -> None:
    first = world.offer(A, b"version 1", digest="d1")
    second = world.offer(A, b"version 2", digest="d2")
    this, catalog = _this_process(world)
    other = _other_process(world)
    catalog.before("mark_active", lambda: other.add_appliance(*second))

    outcome = this.add_appliance(*first)

    assert len(world.live(A)) == 1
    assert outcome.image_id == world.live(A)[0]


def test_whoever_marks_last_sees_the_other_and_the_newest_image_stays_live(world: World) -> None:
    first = world.offer(A, b"version 1", digest="d1")
    second = world.offer(A, b"version 2", digest="d2")
    this, _ = _this_process(world)
    other_catalog = Interleaved(world.catalog)
    other = Backend(evolve(_other_process(world).ctx, catalog=other_catalog))
    outcomes = []

    def this_adds_a_newer_image() -> None:
        world.clock.value += 1
        outcomes.append(this.add_appliance(*first))

    # The other process creates its image first, but marks it live only after this one finished.
    other_catalog.before("mark_active", this_adds_a_newer_image)

    late = other.add_appliance(*second)

    assert world.live(A) == [outcomes[0].image_id] == [late.image_id]
    assert [stored.digest for stored in world.backend.appliances(first[0].image_list_identifier)] == ["d1"]


def test_an_update_meeting_a_stale_second_live_image_converges_on_its_own_bytes(world: World) -> None:
    old = world.offer(A, b"version 1", digest="d1")
    newer = world.offer(A, b"version 2", digest="d2")
    world.backend.add_appliance(*old)
    project = world.backend.ctx.directory.mapping().project_for(old[0].vo)
    # A second live image left by a race of an earlier version: newer, holding other bytes.
    stray = world.catalog.create_image(project, newer[0])
    world.catalog.upload(project, stray, world.files.open(newer[1]).__enter__())
    world.catalog.mark_active(project, stray)
    world.clock.value += 1

    outcome = world.backend.update_appliance(*old)

    assert world.live(A) == [outcome.image_id]
    assert outcome.uploaded
    [stored] = [a for a in world.backend.appliances(old[0].image_list_identifier)]
    assert stored.digest == "d1"

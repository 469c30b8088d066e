"""Listings shared by the calls of one process: within their age, never across our own writes."""

from __future__ import annotations

import threading
import time

from attrs import evolve

from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.domain.backend import Backend
from ckos.domain.listings import SharedListings
from support.world import LIST, PROJECT, World

A = "aaaaaaaa-0000-5000-8000-000000000001"


class Clock:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def shared_backend(world: World, clock: Clock, max_age: float = 30.0) -> tuple[Backend, SharedListings]:
    listings = SharedListings(world.catalog, max_age=max_age, monotonic=clock)
    return Backend(evolve(world.backend.ctx, catalog=listings)), listings


def listings_of(catalog: MemoryCatalog) -> int:
    return sum(
        1 for call in catalog.faults.calls() if call.operation == "list_images" and call.project == PROJECT
    )


def test_a_run_of_listing_calls_reads_each_project_once(world: World) -> None:
    backend, _ = shared_backend(world, Clock())
    backend.add_appliance(*world.offer(A, b"a"))
    before = listings_of(world.catalog)

    backend.remove_expired_appliances()
    backend.image_lists()
    backend.appliances(LIST)
    backend.post_action()

    assert listings_of(world.catalog) - before == 1


def test_a_listing_is_read_again_once_older_than_its_age(world: World) -> None:
    clock = Clock()
    backend, _ = shared_backend(world, clock, max_age=30)
    backend.image_lists()
    clock.value += 29
    backend.image_lists()
    assert listings_of(world.catalog) == 1
    clock.value += 2
    backend.image_lists()
    assert listings_of(world.catalog) == 2


def test_our_own_write_ends_the_shared_listing(world: World) -> None:
    backend, _ = shared_backend(world, Clock())
    assert backend.image_lists() == []

    backend.add_appliance(*world.offer(A, b"a"))

    assert backend.image_lists() == [LIST]


def test_zero_age_never_shares(world: World) -> None:
    backend, _ = shared_backend(world, Clock(), max_age=0)
    backend.image_lists()
    backend.image_lists()
    assert listings_of(world.catalog) == 2


def test_a_listing_read_while_we_write_is_not_kept(world: World) -> None:
    _, listings = shared_backend(world, Clock())
    original = world.catalog.list_images

    def read_while_writing(project, *, appliance_id=None):  # type: ignore[no-untyped-def]
        listings._wrote(project)  # a write of ours lands while the listing is being read
        return original(project, appliance_id=appliance_id)

    world.catalog.list_images = read_while_writing  # type: ignore[method-assign]
    listings.shared(PROJECT)
    world.catalog.list_images = original  # type: ignore[method-assign]
    listings.shared(PROJECT)
    listings.shared(PROJECT)

    assert listings_of(world.catalog) == 2  # read again once, then kept


def test_calls_arriving_together_share_one_read(world: World) -> None:
    _, listings = shared_backend(world, Clock())
    original = world.catalog.list_images

    def slow(project, *, appliance_id=None):  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        return original(project, appliance_id=appliance_id)

    world.catalog.list_images = slow  # type: ignore[method-assign]
    threads = [threading.Thread(target=listings.shared, args=(PROJECT,)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert listings_of(world.catalog) == 1


def test_the_listing_of_one_appliance_and_the_health_check_are_always_fresh(world: World) -> None:
    backend, _ = shared_backend(world, Clock())
    backend.image_lists()
    backend.check_projects()
    backend.check_projects()
    world.catalog.list_images(PROJECT, appliance_id=A)
    assert listings_of(world.catalog) == 4  # one shared, two health checks, one direct

"""The sync use case over the in-memory catalog: plan applied through the Backend, failures
isolated, removals only from complete snapshots and within the deletion budget."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from attrs import define, evolve, field

from ckos.domain.errors import ConversionFailed, SourceUnavailable
from ckos.domain.model import ImageFormat
from ckos.domain.snapshot import Offer, Snapshot, SourceIncomplete
from ckos.domain.sync import Sync, SyncPolicy, target_format
from support.world import LIST, VO, World

IDS = [f"appliance-{n}" for n in range(5)]


@define
class FakeSource:
    offers: list[Offer]
    name: str = "fake"
    incomplete: bool = False
    broken: Exception | None = None
    applications: int = 0

    def applied(self) -> None:
        self.applications += 1

    def read(self) -> Snapshot:
        if self.broken is not None:
            raise self.broken
        snapshot = Snapshot(source=self.name, image_list_identifier=LIST, vo=VO, offers=tuple(self.offers))
        if self.incomplete:
            raise SourceIncomplete("one repository could not be read", partial=snapshot)
        return snapshot


@define
class FakeConversion:
    """Converts by relabelling: the same bytes, announced in the target format."""

    converted_to: list[ImageFormat] = field(factory=list)
    fail: bool = False

    @contextmanager
    def converted(self, offer: Offer, target: ImageFormat) -> Iterator[Offer]:
        if self.fail:
            raise ConversionFailed("qemu-img says no")
        self.converted_to.append(target)
        assert offer.appliance.image is not None
        image = evolve(offer.appliance.image, format=target)
        yield evolve(offer, appliance=evolve(offer.appliance, image=image))


def offers(world: World, *identifiers: str, version: str = "1") -> list[Offer]:
    made = [
        world.offer(identifier, f"{identifier} {version}".encode(), image_digest=version)
        for identifier in identifiers
    ]
    return [Offer(appliance, source) for appliance, source in made]


def sync(world: World, conversion: FakeConversion | None = None, **policy: object) -> Sync:
    return Sync(world.backend, conversion or FakeConversion(), SyncPolicy(**policy))  # type: ignore[arg-type]


def test_a_first_run_adds_everything_and_a_second_changes_nothing(world: World) -> None:
    source = FakeSource(offers(world, *IDS))
    first = sync(world).run(source)
    assert (first.complete, first.added, first.failed) == (True, 5, 0)
    assert first.uploaded_bytes == sum(len(f"{i} 1") for i in IDS)
    calls = len(world.catalog.faults.calls())

    second = sync(world).run(source)

    assert (second.added, second.unchanged, second.uploaded_bytes) == (0, 5, 0)
    writes = [call for call in world.catalog.faults.calls()[calls:] if call.operation != "list_images"]
    assert writes == []


def test_one_failing_image_does_not_stop_the_others(world: World) -> None:
    source = FakeSource(offers(world, *IDS))
    world.files.refuse[source.offers[2].source.location] = SourceUnavailable("HTTP 503")

    report = sync(world, parallel=3).run(source)

    assert (report.added, report.failed, report.ok) == (4, 1, False)
    assert any("appliance-2" in problem and "503" in problem for problem in report.problems)
    assert sorted(a.identifier for a in world.backend.appliances(LIST)) == IDS[:2] + IDS[3:]


def test_an_incomplete_source_adds_what_it_read_and_removes_nothing(world: World) -> None:
    sync(world).run(FakeSource(offers(world, *IDS)))
    partial = FakeSource(offers(world, "appliance-0", "new"), incomplete=True)

    report = sync(world).run(partial)

    assert (report.complete, report.added, report.retired) == (False, 1, 0)
    assert len(world.backend.appliances(LIST)) == 6


def test_an_unreadable_source_changes_nothing(world: World) -> None:
    sync(world).run(FakeSource(offers(world, *IDS)))
    calls = len(world.catalog.faults.calls())

    report = sync(world).run(FakeSource([], broken=SourceUnavailable("registry down")))

    assert (report.complete, report.problems) == (False, ["registry down"])
    assert world.catalog.faults.calls()[calls:] == []


@pytest.mark.parametrize(
    ("removed", "max_removals", "fraction", "held"),
    [(1, 20, 0.5, False), (2, 20, 0.5, False), (3, 20, 0.5, True), (2, 1, 0.5, True), (5, 20, 1.0, False)],
)
def test_removals_are_held_beyond_either_budget(
    world: World, removed: int, max_removals: int, fraction: float, held: bool
) -> None:
    sync(world).run(FakeSource(offers(world, *IDS)))
    smaller = FakeSource(offers(world, *IDS[removed:]))

    report = sync(world, max_removals=max_removals, max_removal_fraction=fraction).run(smaller)

    assert report.removals_held == (removed if held else 0)
    assert report.retired == (0 if held else removed)
    assert len(world.backend.appliances(LIST)) == (5 if held else 5 - removed)
    if held:
        forced = sync(world, max_removals=max_removals, allow_mass_removal=True).run(smaller)
        assert forced.retired == removed


def test_a_dry_run_reports_the_plan_and_writes_nothing(world: World) -> None:
    sync(world).run(FakeSource(offers(world, *IDS[:3])))
    calls = len(world.catalog.faults.calls())
    changed = FakeSource(
        offers(world, "appliance-0", "appliance-3") + offers(world, "appliance-1", version="2")
    )

    report = sync(world, dry_run=True).run(changed)

    assert (report.added, report.updated, report.retired) == (1, 1, 1)
    assert [call.operation for call in world.catalog.faults.calls()[calls:]] == ["list_images"] * 2
    assert world.files.opened.count("appliance-3") == 0


def test_images_in_another_format_than_wanted_are_converted(world: World) -> None:
    conversion = FakeConversion()
    report = sync(world, conversion, formats=(ImageFormat.RAW,)).run(FakeSource(offers(world, "a")))
    assert (report.added, conversion.converted_to) == (1, [ImageFormat.RAW])
    [stored] = world.backend.appliances(LIST)
    assert stored.image is not None
    assert stored.image.format is ImageFormat.RAW


def test_a_failed_conversion_is_one_failure(world: World) -> None:
    report = sync(world, FakeConversion(fail=True), formats=(ImageFormat.RAW,)).run(
        FakeSource(offers(world, "a"))
    )
    assert (report.added, report.failed) == (0, 1)
    assert world.catalog.records() == []


def test_the_target_format_is_the_first_wanted_unless_the_offered_one_is_wanted() -> None:
    assert target_format(ImageFormat.QCOW2, ()) is None
    assert target_format(ImageFormat.QCOW2, (ImageFormat.RAW, ImageFormat.QCOW2)) is None
    assert target_format(ImageFormat.QCOW2, (ImageFormat.RAW, ImageFormat.VMDK)) is ImageFormat.RAW


def test_the_source_is_told_when_its_snapshot_was_applied_and_only_then(world: World) -> None:
    source = FakeSource(offers(world, *IDS))
    sync(world, dry_run=True).run(source)
    sync(world).run(FakeSource([], broken=SourceUnavailable("down")))
    assert source.applications == 0

    sync(world).run(source)
    assert source.applications == 1


def test_a_bug_in_one_source_is_that_source_incomplete_not_a_crash(world: World) -> None:
    sync(world).run(FakeSource(offers(world, *IDS)))

    report = sync(world).run(FakeSource([], broken=RecursionError("maximum recursion depth exceeded")))

    assert (report.complete, report.problems) == (False, ["unexpected RecursionError reading the source"])
    assert len(world.backend.appliances(LIST)) == 5

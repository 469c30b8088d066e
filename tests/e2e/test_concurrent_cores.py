"""Per-VO cores fired together by a site's timers, all against one daemon (issue: the two
PostAction calls that ran together both collected the same retired images, and one failed with
NOT_FOUND). Every call of every run must succeed, and the catalog converge on each list."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from attrs import evolve

from ckos.domain.model import ProjectRef
from support import core
from support.devcloud import TEST_VOS, DevCloud
from support.independent_client import client
from support.site import GRACE, LISTS, Site, make_glance_site, make_site

SHARED = 30.0  # listings shared between the cores' calls, as the daemon does by default
ROUNDS = ("v1", "v2", "v2", "v3")  # the second v2 runs past the grace: every core collects


@pytest.fixture(params=["memory", pytest.param("glance", marks=pytest.mark.openstack)])
def three_vo_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if request.param == "glance":
        cloud: DevCloud = request.getfixturevalue("devcloud")
        yield from make_glance_site(tmp_path, cloud, listing_max_age=SHARED)
    else:
        mapping = {vo: ProjectRef(name=name, domain="default") for vo, name in TEST_VOS.items()}
        yield from make_site(tmp_path, mapping, listing_max_age=SHARED)


def vo_list(name: str, vo: str) -> core.ImageList:
    """The fixture list `name` as the VO's own list: its own list and appliance identifiers."""
    listed = core.ImageList.load(LISTS[name])

    def own(identifier: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{vo}/{identifier}"))

    entries = tuple({**entry, "dc:identifier": own(entry["dc:identifier"])} for entry in listed.entries)
    return evolve(listed, identifier=own(listed.identifier), vo=vo, entries=entries)


def test_per_vo_cores_running_together_all_succeed_and_converge(three_vo_site: Site) -> None:
    site = three_vo_site

    def one_core(name: str, vo: str) -> core.Run:
        directory = site.spool / vo  # each core's own folder in the spool the daemon may read
        directory.mkdir(exist_ok=True)
        return core.run(site.target, vo_list(name, vo), directory, now=site.clock.value)

    for round_number, name in enumerate(ROUNDS):
        if round_number == 2:
            site.clock.value += GRACE + 1
        with ThreadPoolExecutor(len(TEST_VOS)) as cores:
            runs = dict(
                zip(TEST_VOS, cores.map(lambda vo, name=name: one_core(name, vo), TEST_VOS), strict=True)
            )
        for vo, run in runs.items():
            failed = [call for call in run.calls if call.code is not grpc.StatusCode.OK]
            assert (run.exit_code, run.crash, failed) == (0, "", []), f"{name} for {vo}"

    for vo in TEST_VOS:
        listed = vo_list("v3", vo)
        request = client().pb2.ImageListIdentifier(image_list_identifier=listed.identifier)
        code, received = site.call("Appliances", request)
        assert code is grpc.StatusCode.OK
        wanted = sorted(
            entry["dc:identifier"]
            for entry in listed.entries
            if not core.entry_expired(entry, site.clock.value)
        )
        assert sorted(appliance.identifier for appliance in received) == wanted
    site.clock.value += GRACE + 1
    census = site.app.backend.post_action().census
    assert census is not None
    assert (census["retired"], census["unfinished"]) == (0, 0)

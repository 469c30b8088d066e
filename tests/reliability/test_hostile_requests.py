"""A few hundred generated hostile requests (tests/reliability/hostile_requests.py; `make soak`
sends 10,000) to the real daemon process over the session's real Glance: every one ends with a
standard code (never UNKNOWN or INTERNAL), Glance does not change, no file is read out of the spool
or left behind, the daemon keeps answering and its memory stays bounded."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from reliability.daemon_site import DaemonSite, daemon_site
from reliability.hostile_requests import barrage
from reliability.load import VOS, cores_together, vo_list
from support.devcloud import DevCloud
from support.independent_client import client

pytestmark = pytest.mark.openstack
REQUESTS = 300
RSS_GROWTH_BOUND_KIB = 40 * 1024


def listed_lists(site: DaemonSite) -> list[str]:
    with grpc.insecure_channel(site.target) as channel:
        return [
            item.image_list_identifier
            for item in client().stub(channel).ImageLists(client().empty(), timeout=60)
        ]


def test_hostile_requests_get_standard_codes_change_nothing_and_the_daemon_keeps_answering(
    devcloud: DevCloud, tmp_path: Path
) -> None:
    changes = {"images": {"remote_allowed_hosts": ["127.0.0.1"]}}
    with daemon_site(devcloud, tmp_path, changes=changes) as site:
        seeded = {VOS[0]: vo_list(VOS[0], 3)}
        cores_together(site.target, seeded, site.spool)
        lists = listed_lists(site)
        assert lists == [seeded[VOS[0]].identifier]
        before = site.state.snapshot()
        spool = set(os.listdir(site.spool))

        def still_answers() -> None:
            assert site.process is not None
            assert site.process.poll() is None, "the daemon died"
            assert listed_lists(site) == lists

        found = barrage(
            site.target, site.spool, REQUESTS, seed=20251205, check_every=50,
            still_answers=still_answers, rss_kib=site.rss_kib,
        )  # fmt: skip

        assert site.state.snapshot() == before
        assert set(os.listdir(site.spool)) == spool | {"link-out.img"}
        assert list(site.temp.iterdir()) == []
        kinds = {kind for kind, _ in found.outcomes}
        assert len(kinds) == 9 or REQUESTS < 100, found.outcomes
        print(f"{found.requests} requests in {found.seconds:.1f} s, slowest {found.slowest:.2f} s")
        print(f"RSS KiB {found.rss_kib}")
        for (kind, code), count in sorted(found.outcomes.items()):
            print(f"  {kind:20} {code:20} {count}")
        assert max(found.rss_kib) - found.rss_kib[0] < RSS_GROWTH_BOUND_KIB

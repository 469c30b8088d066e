"""`make soak`: the long runs of the reliability campaign (docs/reliability.md), on a devcloud of
its own, against the real daemon process:

1. load rounds: three per-VO cores with 50 appliances each syncing together, alternating a round
   where one appliance in ten has a new image with a steady-state round that must change nothing;
   after each round Glance holds exactly one live image per appliance, and the daemon's RSS is
   sampled (it must stay flat once warm);
2. 20 AddAppliance calls at once for one new appliance: one live image once the next run collected;
3. 10,000 generated hostile requests (tests/reliability/hostile_requests.py): standard codes only,
   Glance unchanged, the daemon answering every 500 requests, its RSS sampled.

Prints the figures as Markdown; exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import grpc  # noqa: E402

from reliability.daemon_site import DaemonSite, daemon_site  # noqa: E402
from reliability.hostile_requests import barrage  # noqa: E402
from reliability.load import VOS, cores_together, identifier, same_appliance_at_once, vo_list  # noqa: E402
from reliability.outages import check_exactly  # noqa: E402
from support.devcloud import TEST_VOS, running_devcloud  # noqa: E402
from support.independent_client import client  # noqa: E402

FLAT_KIB = 16 * 1024  # RSS may move this much between the first warm round and the last


def load_rounds(site: DaemonSite, appliances: int, rounds: int) -> list[str]:
    lines = ["| round | kind | seconds | RSS KiB after |", "| --- | --- | --- | --- |"]
    everything = {identifier(vo, n) for vo in VOS for n in range(appliances)}
    rss: list[int] = []
    for number in range(rounds):
        version = (number + 1) // 2  # 0 (first sync), 1, 1 (steady), 2, 2 (steady), ...
        steady = number > 0 and number % 2 == 0
        lists = {vo: vo_list(vo, appliances, version=version) for vo in VOS}
        before = site.state.snapshot() if steady else None
        started = time.monotonic()
        cores_together(site.target, lists, site.spool)
        seconds = time.monotonic() - started
        if steady:
            assert site.state.snapshot() == before, f"steady round {number} changed Glance"
        else:
            cores_together(site.target, lists, site.spool)  # collects what the updates retired
        check_exactly(site.state.records(), site.tag, everything)
        rss.append(site.rss_kib())
        kind = "first sync" if number == 0 else ("steady state" if steady else f"10% updated (v{version})")
        lines.append(f"| {number + 1} | {kind} | {seconds:.1f} | {rss[-1]} |")
        print(lines[-1], flush=True)
    warm = rss[1:] or rss
    peak = site.peak_kib()
    lines.append(
        f"\nRSS from round 2 to the last: min {min(warm)}, max {max(warm)} KiB; peak (VmHWM) {peak} KiB"
    )
    assert max(warm) - warm[0] < FLAT_KIB, f"the daemon's memory grew: {rss}"
    return lines


def racing_adds(site: DaemonSite, appliances: int, calls: int) -> list[str]:
    grown = {vo: vo_list(vo, appliances + (vo == VOS[0]), version=0) for vo in VOS}
    started = time.monotonic()
    codes = same_appliance_at_once(site.target, grown[VOS[0]], site.spool, calls)
    seconds = time.monotonic() - started
    assert set(codes) == {grpc.StatusCode.OK}, codes
    cores_together(site.target, grown, site.spool)
    cores_together(site.target, grown, site.spool)
    live = {identifier(vo, n) for vo in VOS for n in range(appliances)} | {identifier(VOS[0], appliances)}
    check_exactly(site.state.records(), site.tag, live)
    done = f"all OK in {seconds:.1f} s; one live image after the next run"
    return [f"{calls} AddAppliance calls at once for one appliance: {done}"]


def hostile(site: DaemonSite, count: int) -> list[str]:
    lists = {VOS[0]: vo_list(VOS[0], 3)}
    cores_together(site.target, lists, site.spool)
    before = site.state.snapshot()

    def still_answers() -> None:
        assert site.process is not None
        assert site.process.poll() is None, "the daemon died"
        with grpc.insecure_channel(site.target) as channel:
            items = client().stub(channel).ImageLists(client().empty(), timeout=60)
            assert [item.image_list_identifier for item in items] == [lists[VOS[0]].identifier]

    found = barrage(
        site.target,
        site.spool,
        count,
        seed=7,
        check_every=500,
        still_answers=still_answers,
        rss_kib=site.rss_kib,
    )
    assert site.state.snapshot() == before, "a hostile request changed Glance"
    lines = [
        f"{found.requests} hostile requests in {found.seconds:.0f} s (slowest {found.slowest:.2f} s); "
        f"Glance unchanged; the daemon answered at every check",
        f"RSS KiB every 500 requests: {found.rss_kib}; peak (VmHWM) {site.peak_kib()} KiB",
        "",
        "| kind | code | requests |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {kind} | {code} | {n} |" for (kind, code), n in sorted(found.outcomes.items())]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appliances", type=int, default=50, help="per VO (default 50)")
    parser.add_argument("--rounds", type=int, default=7, help="load rounds (default 7)")
    parser.add_argument("--requests", type=int, default=10_000, help="hostile requests (default 10000)")
    options = parser.parse_args()
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ckos-soak-") as scratch:
        folder = Path(scratch)
        with running_devcloud(folder / "cloud", vos=TEST_VOS) as cloud:
            changes = {"images": {"remote_allowed_hosts": ["127.0.0.1"]}}
            with daemon_site(cloud, folder / "load", changes=changes) as site:
                report += ["## Load rounds", "", *load_rounds(site, options.appliances, options.rounds)]
                report += ["", "## Racing adds", "", *racing_adds(site, options.appliances, 20)]
            with daemon_site(cloud, folder / "hostile", changes=changes) as site:
                report += ["", "## Hostile requests", "", *hostile(site, options.requests)]
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

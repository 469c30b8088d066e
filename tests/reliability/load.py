"""Load on one daemon: per-VO cores with many appliances syncing together, and one appliance added
by many calls at once. Shared by tests/reliability/test_load.py (one round) and bench/soak.py (many).

    lists = {vo: vo_list(vo, 50, version=0) for vo in VOS}
    runs = cores_together(target, lists, spool)         # {vo: core.Run}, every call checked OK
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc

from support import core
from support.devcloud import TEST_VOS
from support.independent_client import client
from support.site import LISTS, UBUNTU

VOS = tuple(TEST_VOS)  # the session devcloud's three mapped VOs
LISTING = ["PreAction", "RemoveExpiredAppliances", "ImageLists", "Appliances", "PostAction"]
NAMESPACE = uuid.UUID("3b0c58e4-7d5c-4d3e-9f3a-2f6c1e0a9b11")


def identifier(vo: str, n: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{vo} appliance {n}"))


def vo_list(vo: str, count: int, *, version: int = 0, churn: int = 10) -> core.ImageList:
    """The VO's list of `count` appliances; at version v, one appliance in `churn` (those with
    n % churn == v % churn, for v > 0) has a new image, so a new version means that many updates."""
    template = core.ImageList.load(LISTS["v1"]).entry(UBUNTU)
    entries = []
    for n in range(count):
        build = version if version and n % churn == version % churn else 0
        uri = f"https://images.example.org/{vo}/appliance-{n}-{build}.qcow2"
        entries.append(
            {
                **template,
                "dc:identifier": identifier(vo, n),
                "dc:title": f"Load appliance {n} [Ubuntu/22.04/KVM]",
                "ad:mpuri": f"https://appdb.egi.eu/store/vo/image/{identifier(vo, n)}:1/",
                "hv:uri": uri,
                "hv:version": str(build),
                "sl:checksum:sha512": hashlib.sha512(uri.encode()).hexdigest(),
                "dc:date:expires": "2099-12-31T00:00:00Z",
            }
        )
    return core.ImageList(
        identifier=str(uuid.uuid5(NAMESPACE, f"{vo} list")), vo=vo, expires=0, entries=tuple(entries)
    )


def cores_together(target: str, lists: Mapping[str, core.ImageList], spool: Path) -> dict[str, core.Run]:
    """One run of each VO's core, all at once (each with its own image folder); every call must succeed."""

    def one(vo: str) -> core.Run:
        folder = spool / vo
        folder.mkdir(exist_ok=True)
        return core.run(target, lists[vo], folder)

    with ThreadPoolExecutor(len(lists)) as pool:
        runs = dict(zip(lists, pool.map(one, lists), strict=True))
    for vo, run in runs.items():
        failed = [
            (c.rpc, c.subject, c.code.name, c.details) for c in run.calls if c.code is not grpc.StatusCode.OK
        ]
        assert (run.exit_code, run.crash, failed) == (0, "", []), f"the core of {vo}"
    return runs


def same_appliance_at_once(
    target: str, image_list: core.ImageList, spool: Path, calls: int
) -> list[grpc.StatusCode]:
    """`calls` AddAppliance calls for the list's last appliance, all at once, each offering its own
    copy of the same image (as cores racing each other would): their codes."""
    entry = image_list.entries[-1]
    paths = []
    for n in range(calls):
        path = spool / f"racing-{n}.qcow2"
        path.write_bytes(core.image_bytes(entry))
        paths.append(path)

    def add(path: Path) -> grpc.StatusCode:
        request: Any = core.to_appliance(client().pb2, image_list, entry, location=str(path), fmt="QCOW2")
        with grpc.insecure_channel(target) as channel:
            try:
                client().stub(channel).AddAppliance(request, timeout=300)
            except grpc.RpcError as error:
                return error.code()
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(calls) as pool:
        codes = list(pool.map(add, paths))
    for path in paths:
        path.unlink()
    return codes

"""The simulated core 2.0 (support.core), sending the digests the REAL core computes for a list.

support.core hashes the entries its own way; a site switching from the real core to the sync
holds the real core's digests, which ckos's HEPiX mapping reproduces byte for byte (checked
against the recorded vectors in tests/hepix). Everything else is support.core's run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc

from ckos.adapters.sources.hepix.mapping import snapshot_from_list
from support import core


class _RealDigests(core.Session):
    digests: Mapping[str, tuple[str, str]] = {}  # identifier -> (appliance digest, image digest)

    def _image_changed(self, stored: Any, entry: Mapping[str, str]) -> bool:
        return bool(self.digests[entry["dc:identifier"]][1] != stored.image.digest)

    def _metadata_changed(self, stored: Any, entry: Mapping[str, str]) -> bool:
        return bool(self.digests[entry["dc:identifier"]][0] != stored.digest)

    def _appliance(self, entry: Mapping[str, str], *, location: str | None = None, fmt: str = "") -> Any:
        message = super()._appliance(entry, location=location, fmt=fmt)
        appliance_digest, image_digest = self.digests[entry["dc:identifier"]]
        message.digest = appliance_digest
        if location is not None:
            message.image.digest = image_digest
        return message


def run(target: str, image_list: Path, directory: Path, *, now: int | None = None) -> core.Run:
    """One core 2.0 run of the list (a JSON file) against the backend at target, real digests."""
    clock = int(time.time()) if now is None else now
    snapshot, _ = snapshot_from_list(image_list.read_bytes(), source_name="core", vo=None, now=clock)
    digests = {
        offer.appliance.identifier: (offer.appliance.digest, offer.appliance.image.digest)
        for offer in snapshot.offers
        if offer.appliance.image is not None
    }
    with grpc.insecure_channel(target) as channel:
        session = _RealDigests(
            channel, core.ImageList.load(image_list), directory, clock, ("QCOW2",), "core-2.0"
        )
        session.digests = digests
        return session.run()

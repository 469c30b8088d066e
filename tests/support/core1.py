"""A simulator of one Cloudkeeper core 1.x run, through the independent client of the core-1 layout.

Like core.py's core 2.0, one image list per run, calls in sequence on one channel, LOCAL files
deleted as soon as the call returns. Unlike it, the core 1.x:
- calls only 8 RPCs: no RemoveExpiredAppliances (the backend expires at PreAction) and no
  UpdateApplianceMetadata (a metadata change is an UpdateAppliance without an image);
- reads each outcome from the trailing metadata (`status`, `message`) of calls that end with
  gRPC OK; a non-OK gRPC code is a transport failure, as is a missing `status`;
- sends no digests: it sends the list entry as the `attributes` map and decides by comparing the
  map Appliances echoes with the entry: equal, nothing; an image key differs, UpdateAppliance with
  the image; another key differs, UpdateAppliance without one.

Assumptions where the core 1.x's code is not at hand: a failed call other than PreAction and the
listings is logged and the run goes on, ending with exit code 12; a failed listing crashes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from support import core
from support.core import IMAGE_KEYS, ImageList, Run, Tamper, _CoreCrash

SUCCESS = "SUCCESS"


def attributes(entry: Mapping[str, str]) -> dict[str, str]:
    """What the core 1.x sends as `attributes`: the list entry's keys and values."""
    return dict(entry)


def to_appliance(
    pb2: Any, image_list: ImageList, entry: Mapping[str, str], *, location: str | None = None, fmt: str = ""
) -> Any:
    """The core 1.x Appliance message for a list entry; with an image when location is given."""
    appliance = pb2.Appliance(**core.appliance_fields(image_list, entry), attributes=attributes(entry))
    if location is not None:
        appliance.image.CopyFrom(core.local_image(pb2, entry, location, fmt))
    return appliance


def outcome(call: Any) -> tuple[str, str]:
    """The (status, message) a finished call carried in its trailing metadata."""
    metadata = dict(call.trailing_metadata() or ())
    return str(metadata.get("status", "")), str(metadata.get("message", ""))


class _Session(core.Session):
    """core.py's run with the core 1.x's differences (see the module's docstring)."""

    METADATA_RPC = "UpdateAppliance"  # without an image
    RENAMES_CONVERTED = False

    def _expire_all(self, empty: Any) -> None:
        """The core 1.x has no RemoveExpiredAppliances: the backend expires at PreAction."""

    def _image_changed(self, stored: Any, entry: Mapping[str, str]) -> bool:
        known = dict(stored.attributes)
        return any(known.get(key, "") != entry.get(key, "") for key in IMAGE_KEYS)

    def _metadata_changed(self, stored: Any, entry: Mapping[str, str]) -> bool:
        return dict(stored.attributes) != attributes(entry)

    def _appliance(self, entry: Mapping[str, str], *, location: str | None = None, fmt: str = "") -> Any:
        return to_appliance(self.gen.pb2, self.image_list, entry, location=location, fmt=fmt)

    def _invoke(self, rpc: str, request: Any) -> tuple[grpc.StatusCode, str, str, bool]:
        _, call = getattr(self.stub, rpc).with_call(request)
        status, message = outcome(call)
        return call.code(), message, status, status == SUCCESS

    def _stream(
        self,
        rpc: str,
        subject: str,
        request: Any,
        name: Callable[[Any], str],
        into: list[Any] | None = None,
    ) -> list[Any]:
        """Unlike core 2.0's, into gets the items only once the stream has ended with SUCCESS."""
        call = getattr(self.stub, rpc)(request)
        try:
            items = list(call)
        except grpc.RpcError as error:
            self.record.calls.append(core.Call(rpc, subject, error.code(), error.details() or ""))
            raise _CoreCrash(f"{rpc} failed with {error.code().name}: core crashed") from None
        status, message = outcome(call)
        returned = tuple(name(item) for item in items)
        self.record.calls.append(core.Call(rpc, subject, call.code(), message, returned, status))
        if status != SUCCESS:
            raise _CoreCrash(f"{rpc} reported {status or 'no status'}: core crashed")
        if into is not None:
            into.extend(items)
        return items


def run(
    target: str, image_list: Path | ImageList, directory: Path, *, now: int, tamper: Tamper | None = None
) -> Run:
    """One core 1.x run for one image list against the backend at target ("host:port")."""
    listed = image_list if isinstance(image_list, ImageList) else ImageList.load(image_list)
    with grpc.insecure_channel(target) as channel:
        return _Session(channel, listed, directory, now, ("QCOW2",), "core-1", tamper).run()

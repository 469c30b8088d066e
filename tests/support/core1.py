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

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import grpc

from support import core
from support.core import IMAGE_KEYS, ImageList, Run, Tamper, entry_expired, image_bytes
from support.independent_client import Client, client

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
        data = image_bytes(entry)
        appliance.image.CopyFrom(
            pb2.Image(
                mode=pb2.Image.LOCAL,
                location=location,
                format=pb2.Image.Format.Value(fmt or entry.get("hv:format", "QCOW2").upper()),
                uri=entry.get("hv:uri", ""),
                checksum=hashlib.sha512(data).hexdigest(),
                size=len(data),
            )
        )
    return appliance


def outcome(call: Any) -> tuple[str, str]:
    """The (status, message) a finished call carried in its trailing metadata."""
    metadata = dict(call.trailing_metadata() or ())
    return str(metadata.get("status", "")), str(metadata.get("message", ""))


class _CoreCrash(Exception):
    pass


class _Session:
    def __init__(self, channel: Any, image_list: ImageList, directory: Path, now: int, tamper: Tamper | None):
        self.gen: Client = client("core-1")
        self.stub = self.gen.stub(channel)
        self.image_list = image_list
        self.directory = directory
        self.now = now
        self.tamper = tamper
        self.record = Run()
        self.failed = False

    def run(self) -> Run:
        try:
            self._run()
        except _CoreCrash as crash:
            self.record.crash = str(crash)
            self.record.exit_code = 1
        return self.record

    def _run(self) -> None:
        empty = self.gen.empty()
        if not self._unary("PreAction", "", empty):
            raise _CoreCrash("PreAction failed: run aborted")
        listed = self.image_list
        lists = self._stream("ImageLists", "", empty, lambda item: item.image_list_identifier)
        ids = [item.image_list_identifier for item in lists]
        if listed.identifier not in ids:
            for entry in () if listed.expired(self.now) else listed.entries:
                if not entry_expired(entry, self.now):
                    self._offer("AddAppliance", entry)
        elif listed.expired(self.now):
            request = self.gen.pb2.ImageListIdentifier(image_list_identifier=listed.identifier)
            self._unary("RemoveImageList", listed.identifier, request)
        else:
            self._sync()
        self._unary("PostAction", "", empty)
        self.record.exit_code = 12 if self.failed else 0

    def _sync(self) -> None:
        listed = self.image_list
        request = self.gen.pb2.ImageListIdentifier(image_list_identifier=listed.identifier)
        received = self._stream("Appliances", listed.identifier, request, lambda item: item.identifier)
        self.record.appliances.extend(received)
        for appliance in received:
            missing = core.missing_fields(appliance)
            if missing:
                raise _CoreCrash(f"Appliances entry {appliance.identifier!r} lacks {', '.join(missing)}")
        backend = {appliance.identifier: appliance for appliance in received}
        entries = {entry["dc:identifier"]: entry for entry in listed.entries}
        for identifier, appliance in backend.items():
            if identifier not in entries:
                self._remove(appliance)
        for identifier, entry in entries.items():
            if identifier not in backend and not entry_expired(entry, self.now):
                self._offer("AddAppliance", entry)
        for identifier, appliance in backend.items():
            if identifier in entries:
                self._reconcile(appliance, entries[identifier])

    def _reconcile(self, stored: Any, entry: Mapping[str, str]) -> None:
        known = dict(stored.attributes)
        if entry_expired(entry, self.now):
            self._remove(to_appliance(self.gen.pb2, self.image_list, entry))
        elif any(known.get(key, "") != entry.get(key, "") for key in IMAGE_KEYS):
            self._offer("UpdateAppliance", entry)
        elif known != attributes(entry):
            request = to_appliance(self.gen.pb2, self.image_list, entry)
            self._unary("UpdateAppliance", stored.identifier, request)

    def _remove(self, appliance: Any) -> None:
        request = self.gen.pb2.Appliance()
        request.CopyFrom(appliance)
        request.ClearField("image")
        self._unary("RemoveAppliance", request.identifier, request)

    def _offer(self, rpc: str, entry: Mapping[str, str]) -> None:
        name = PurePosixPath(urlparse(entry.get("hv:uri", "")).path).name or entry["dc:identifier"]
        path = self.directory / name
        path.write_bytes(image_bytes(entry))
        try:
            if self.tamper is not None:
                self.tamper(entry["dc:identifier"], path)
            fmt = core.offered_format(entry, ("QCOW2",))
            request = to_appliance(self.gen.pb2, self.image_list, entry, location=str(path), fmt=fmt)
            self._unary(rpc, entry["dc:identifier"], request)
        finally:
            path.unlink(missing_ok=True)

    def _unary(self, rpc: str, subject: str, request: Any) -> bool:
        try:
            _, call = getattr(self.stub, rpc).with_call(request)
        except grpc.RpcError as error:
            self.record.calls.append(core.Call(rpc, subject, error.code(), error.details() or ""))
            self.failed = True
            return False
        status, message = outcome(call)
        self.record.calls.append(core.Call(rpc, subject, call.code(), message, status=status))
        self.failed |= status != SUCCESS
        return status == SUCCESS

    def _stream(self, rpc: str, subject: str, request: Any, name: Callable[[Any], str]) -> list[Any]:
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
        return items


def run(
    target: str, image_list: Path | ImageList, directory: Path, *, now: int, tamper: Tamper | None = None
) -> Run:
    """One core 1.x run for one image list against the backend at target ("host:port")."""
    listed = image_list if isinstance(image_list, ImageList) else ImageList.load(image_list)
    with grpc.insecure_channel(target) as channel:
        return _Session(channel, listed, directory, now, tamper).run()

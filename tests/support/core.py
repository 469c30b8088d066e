"""A simulator of one Cloudkeeper core 2.0 run (wire contract §2), through the independent client.

Like the real core it handles one image list per run, calls strictly in sequence on one channel
with no deadline, offers each image as a LOCAL file that it deletes as soon as the call returns,
and decides add / update / metadata update / remove only from what `Appliances` returns.
The real image checksums in a list cannot be reproduced, so each offered file holds a few KiB
derived from its list entry, announced with their own SHA-512 and size.

Assumption where the contract is silent: a failed Add/Update/UpdateMetadata/Remove/RemoveImageList
is logged and the run goes on, ending with exit code 12 like a failed RemoveExpiredAppliances.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import grpc
from attrs import define, field, frozen

from support.independent_client import Client, client

IMAGE_KEYS = ("hv:uri", "sl:checksum:sha512", "hv:size", "hv:format")
OK = grpc.StatusCode.OK
Tamper = Callable[[str, Path], None]  # (appliance identifier, offered file) before the call


@frozen
class ImageList:
    identifier: str
    vo: str
    expires: int  # Unix seconds, 0 = never
    entries: tuple[Mapping[str, str], ...]

    @classmethod
    def load(cls, path: Path) -> ImageList:
        body = json.loads(path.read_text())["hv:imagelist"]
        return cls(
            identifier=body["dc:identifier"],
            vo=body.get("ad:vo", ""),
            expires=unix_time(body.get("dc:date:expires", "")),
            entries=tuple(item["hv:image"] for item in body.get("hv:images", [])),
        )

    def expired(self, now: int) -> bool:
        return self.expires != 0 and self.expires <= now

    def entry(self, identifier: str) -> Mapping[str, str]:
        return next(entry for entry in self.entries if entry["dc:identifier"] == identifier)


def unix_time(value: str) -> int:
    """An ISO 8601 date of the list as Unix seconds; 0 when absent."""
    return int(datetime.fromisoformat(value).timestamp()) if value else 0


def entry_expired(entry: Mapping[str, str], now: int) -> bool:
    expires = unix_time(entry.get("dc:date:expires", ""))
    return expires != 0 and expires <= now


def _sha512_json(value: object) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha512(canonical.encode()).hexdigest()


def digest(entry: Mapping[str, str]) -> str:
    """The appliance digest: over every key of the entry."""
    return _sha512_json(dict(entry))


def image_digest(entry: Mapping[str, str]) -> str:
    """The image digest: over the keys that describe the image itself."""
    return _sha512_json({key: entry.get(key, "") for key in IMAGE_KEYS})


def image_bytes(entry: Mapping[str, str]) -> bytes:
    """The offered file's content: a few KiB determined by the entry's image."""
    source = f"{entry.get('hv:uri', '')}\n{entry.get('sl:checksum:sha512', '')}"
    seed = hashlib.sha512(source.encode()).digest()
    length = 2048 + int.from_bytes(seed[:2], "big") % 4096
    blocks = (hashlib.sha512(seed + n.to_bytes(4, "big")).digest() for n in range(length // 64 + 1))
    return b"".join(blocks)[:length]


def offered_format(entry: Mapping[str, str], formats: tuple[str, ...]) -> str:
    """The format the core offers: the list's when acceptable, else converted to the first one."""
    listed = entry.get("hv:format", "").upper()
    return listed if listed in formats else formats[0]


def appliance_fields(image_list: ImageList, entry: Mapping[str, str]) -> dict[str, Any]:
    """The Appliance fields every layout has (1..13), from a list entry (wire contract §4)."""
    system = (entry.get(key, "") for key in ("sl:os", "sl:osname", "sl:osversion"))
    return {
        "identifier": entry.get("dc:identifier", ""),
        "title": entry.get("dc:title", ""),
        "description": entry.get("dc:description", ""),
        "mpuri": entry.get("ad:mpuri", ""),
        "group": entry.get("ad:group", ""),
        "ram": int(entry.get("hv:ram_minimum") or 0),
        "core": int(entry.get("hv:core_minimum") or 0),
        "version": entry.get("hv:version", ""),
        "architecture": entry.get("sl:arch", ""),
        "operating_system": " ".join(part for part in system if part),
        "vo": image_list.vo,
        "expiration_date": unix_time(entry.get("dc:date:expires", "")),
        "image_list_identifier": image_list.identifier,
    }


def to_appliance(
    pb2: Any, image_list: ImageList, entry: Mapping[str, str], *, location: str | None = None, fmt: str = ""
) -> Any:
    """The Appliance message for a list entry (wire contract §4); with an image when location is given."""
    appliance = pb2.Appliance(
        **appliance_fields(image_list, entry),
        base_mpuri=entry.get("ad:base_mpuri", ""),
        appid=entry.get("ad:appid", ""),
        digest=digest(entry),
    )
    if location is not None:
        appliance.image.CopyFrom(local_image(pb2, entry, location, fmt, digest=image_digest(entry)))
    return appliance


def local_image(pb2: Any, entry: Mapping[str, str], location: str, fmt: str = "", **extra: Any) -> Any:
    """The Image message of a LOCAL file offered for a list entry (extra: layout-specific fields)."""
    data = image_bytes(entry)
    return pb2.Image(
        mode=pb2.Image.LOCAL,
        location=location,
        format=pb2.Image.Format.Value(fmt or entry.get("hv:format", "QCOW2").upper()),
        uri=entry.get("hv:uri", ""),
        checksum=hashlib.sha512(data).hexdigest(),
        size=len(data),
        **extra,
    )


@frozen
class Call:
    rpc: str
    subject: str  # the appliance identifier, or the list id of Appliances / RemoveImageList
    code: grpc.StatusCode
    details: str = ""  # or the trailing `message` of the core 1.x
    returned: tuple[str, ...] = ()  # what a stream yielded before it ended
    status: str = ""  # the trailing `status` of the core 1.x


@define
class Run:
    calls: list[Call] = field(factory=list)
    exit_code: int = 0
    crash: str = ""  # why the core stopped early (exit 1), if it did
    appliances: list[Any] = field(factory=list)  # what Appliances returned, as received

    def sequence(self) -> list[tuple[str, str]]:
        return [(call.rpc, call.subject) for call in self.calls]

    def codes(self) -> dict[tuple[str, str], grpc.StatusCode]:
        return {(call.rpc, call.subject): call.code for call in self.calls}

    def statuses(self) -> dict[tuple[str, str], str]:
        """The trailing `status` of each call (core 1.x runs)."""
        return {(call.rpc, call.subject): call.status for call in self.calls}


REQUIRED = ("identifier", "mpuri", "vo", "image_list_identifier")
REQUIRED_IMAGE = ("uri", "checksum")


def missing_fields(appliance: Any) -> list[str]:
    """What the real core refuses in an Appliances entry (it crashes on any of these)."""
    missing = [name for name in REQUIRED if not getattr(appliance, name)]
    if not appliance.HasField("image"):
        return [*missing, "image"]
    return missing + [f"image.{name}" for name in REQUIRED_IMAGE if not getattr(appliance.image, name)]


class _CoreCrash(Exception):
    pass


class Session:
    """One core run's skeleton; core 2.0's by default, core1.py's session overrides the hooks.

    Hooks: METADATA_RPC, RENAMES_CONVERTED, _expire_all, _image_changed, _metadata_changed,
    _appliance, _invoke and _stream.
    """

    METADATA_RPC = "UpdateApplianceMetadata"  # what a metadata-only change is sent as
    RENAMES_CONVERTED = True  # whether an offered file takes the suffix of the format it was converted to

    def __init__(
        self,
        channel: Any,
        image_list: ImageList,
        directory: Path,
        now: int,
        formats: tuple[str, ...],
        layout: str,
        tamper: Tamper | None = None,
    ) -> None:
        self.gen: Client = client(layout)
        self.stub = self.gen.stub(channel)
        self.image_list = image_list
        self.directory = directory
        self.now = now
        self.formats = formats
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
        self._expire_all(empty)
        lists = self._stream("ImageLists", "", empty, lambda item: item.image_list_identifier)
        ids = [item.image_list_identifier for item in lists]
        listed = self.image_list
        if listed.identifier not in ids:
            # A new list is registered unless it has expired already (the contract's §2 omits that).
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

    def _expire_all(self, empty: Any) -> None:
        """The core 2.0 asks the backend to remove expired appliances right after PreAction."""
        self._unary("RemoveExpiredAppliances", "", empty)

    def _sync(self) -> None:
        listed = self.image_list
        request = self.gen.pb2.ImageListIdentifier(image_list_identifier=listed.identifier)
        received: list[Any] = self.record.appliances
        self._stream("Appliances", listed.identifier, request, lambda item: item.identifier, received)
        for appliance in received:
            missing = missing_fields(appliance)
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
        """An appliance both listed and in the backend."""
        if entry_expired(entry, self.now):
            self._remove(self._appliance(entry))
        elif self._image_changed(stored, entry):
            self._offer("UpdateAppliance", entry)
        elif self._metadata_changed(stored, entry):
            self._unary(self.METADATA_RPC, stored.identifier, self._appliance(entry))

    def _image_changed(self, stored: Any, entry: Mapping[str, str]) -> bool:
        """The core 2.0 compares only the digests."""
        return bool(image_digest(entry) != stored.image.digest)

    def _metadata_changed(self, stored: Any, entry: Mapping[str, str]) -> bool:
        return bool(digest(entry) != stored.digest)

    def _appliance(self, entry: Mapping[str, str], *, location: str | None = None, fmt: str = "") -> Any:
        return to_appliance(self.gen.pb2, self.image_list, entry, location=location, fmt=fmt)

    def _remove(self, appliance: Any) -> None:
        request = self.gen.pb2.Appliance()
        request.CopyFrom(appliance)
        request.ClearField("image")
        self._unary("RemoveAppliance", request.identifier, request)

    def _offer(self, rpc: str, entry: Mapping[str, str]) -> None:
        fmt = offered_format(entry, self.formats)
        name = PurePosixPath(urlparse(entry.get("hv:uri", "")).path).name or entry["dc:identifier"]
        path = self.directory / name
        if self.RENAMES_CONVERTED and fmt != entry.get("hv:format", "").upper():
            path = path.with_suffix(f".{fmt.lower()}")
        path.write_bytes(image_bytes(entry))
        try:
            if self.tamper is not None:
                self.tamper(entry["dc:identifier"], path)
            request = self._appliance(entry, location=str(path), fmt=fmt)
            self._unary(rpc, entry["dc:identifier"], request)
        finally:
            path.unlink(missing_ok=True)

    def _unary(self, rpc: str, subject: str, request: Any) -> bool:
        try:
            code, message, status, succeeded = self._invoke(rpc, request)
        except grpc.RpcError as error:
            self.record.calls.append(Call(rpc, subject, error.code(), error.details() or ""))
            self.failed = True
            return False
        self.record.calls.append(Call(rpc, subject, code, message, status=status))
        self.failed |= not succeeded
        return succeeded

    def _invoke(self, rpc: str, request: Any) -> tuple[grpc.StatusCode, str, str, bool]:
        """One unary call: its (code, message, status, succeeded); a gRPC error is a failure."""
        getattr(self.stub, rpc)(request)
        return OK, "", "", True

    def _stream(
        self,
        rpc: str,
        subject: str,
        request: Any,
        name: Callable[[Any], str],
        into: list[Any] | None = None,
    ) -> list[Any]:
        """The items a stream yields (also appended to into as they come); failing crashes the core."""
        items: list[Any] = [] if into is None else into
        try:
            for item in getattr(self.stub, rpc)(request):
                items.append(item)
        except grpc.RpcError as error:
            returned = tuple(name(item) for item in items)
            self.record.calls.append(Call(rpc, subject, error.code(), error.details() or "", returned))
            raise _CoreCrash(f"{rpc} failed with {error.code().name}: core crashed") from None
        returned = tuple(name(item) for item in items)
        self.record.calls.append(Call(rpc, subject, OK, "", returned))
        return items


def run(
    target: str,
    image_list: Path | ImageList,
    directory: Path,
    *,
    now: int | None = None,
    formats: Iterable[str] = ("QCOW2",),
    tamper: Tamper | None = None,
    layout: str = "core-2.0",
) -> Run:
    """One core run for one image list against the backend at target ("host:port").

    formats are the formats the core may offer (the real default: QCOW2 only, other formats are
    converted); now decides expiry (default: the real clock); tamper may change an offered file
    after it is written and before the call, to simulate a corrupted transfer. layout may also be
    "proto-2019": a core built from that file would run alike, with image at 18.
    """
    listed = image_list if isinstance(image_list, ImageList) else ImageList.load(image_list)
    clock = int(datetime.now().timestamp()) if now is None else now
    with grpc.insecure_channel(target) as channel:
        formats = tuple(f.upper() for f in formats)
        return Session(channel, listed, directory, clock, formats, layout, tamper).run()


_APPLIANCE_RPCS = {"AddAppliance", "UpdateAppliance", "UpdateApplianceMetadata", "RemoveAppliance"}


def recorded_runs(session: Path) -> list[list[tuple[str, str]]]:
    """The (rpc, subject) sequence of each run in a recorded session (.jsonl), in the Run.sequence form."""
    runs: list[list[tuple[str, str]]] = []
    for line in session.read_text().splitlines():
        if not line.strip():
            continue
        call = json.loads(line)
        rpc, request = call["rpc"], call.get("request", {})
        if rpc == "PreAction":
            runs.append([])
        if rpc in _APPLIANCE_RPCS:
            subject = request.get("identifier", "")
        else:
            subject = request.get("image_list_identifier", "")
        runs[-1].append((rpc, subject))
    return runs

"""Generated hostile requests to a daemon, none of which may change anything: random bytes, mutated,
truncated and oversized messages, huge strings, bad enums, path traversal and symlinks out of the
spool in LOCAL locations, URLs to hosts not allowed, unmapped VOs. Shared by
tests/reliability/test_hostile_requests.py (a few hundred) and bench/soak.py (10,000).

Every appliance they name is unknown to the catalog and every LOCAL file they offer is missing or
outside the spool, so no request can be a legitimate change: whatever the daemon answers, the
catalog must stay as it was. A request is sent as raw bytes, never through a serializer that
could refuse it first.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from attrs import define, field

from support import core
from support.independent_client import client, method
from support.site import LISTS, UBUNTU

UNARY = [
    "PreAction",
    "PostAction",
    "AddAppliance",
    "UpdateAppliance",
    "UpdateApplianceMetadata",
    "RemoveAppliance",
    "RemoveImageList",
    "RemoveExpiredAppliances",
]
STREAMING = ["ImageLists", "Appliances"]
APPLIANCE_RPCS = ["AddAppliance", "UpdateAppliance", "UpdateApplianceMetadata", "RemoveAppliance"]
# What a request may end with; UNKNOWN and INTERNAL never. RESOURCE_EXHAUSTED is grpc's own answer
# to a message over the 1 MiB the server accepts.
ACCEPTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
MAX_MESSAGE = 4 * 1024 * 1024  # what the oversized requests reach (the server takes 1 MiB)
CALL_TIMEOUT = 60.0
NOT_ALLOWED_URLS = [
    "http://10.0.0.1/image.qcow2",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:1/image.qcow2",
    "http://localhost:1/image.qcow2",
    "file:///etc/passwd",
    "ftp://127.0.0.1/image.qcow2",
    "gopher://127.0.0.1:70/_",
    "http://127.0.0.1.nip.io/x",
    "http://user:pass@evil.example.com@127.0.0.2/x",
    "http://%31%32%37.0.0.1/x",
    "//127.0.0.1/x",
    "",
]
HUGE_FIELDS = ["identifier", "title", "vo", "image_list_identifier", "description", "digest"]
UNMAPPED_VOS = ["unmapped.example.org", "", " fedcloud.egi.eu", "FEDCLOUD.EGI.EU"]


@define
class Hostile:
    """A generator of hostile requests for a daemon whose spool is `spool`, and what it saw."""

    spool: Path
    seed: int = 0
    outcomes: Counter[tuple[str, str]] = field(factory=Counter)  # (kind, code) -> count
    slowest: float = 0.0
    _random: random.Random = field(init=False)

    def __attrs_post_init__(self) -> None:
        self._random = random.Random(self.seed)
        outside = self.spool.parent / "outside.img"
        outside.write_bytes(b"outside the spool")
        link = self.spool / "link-out.img"
        if not link.is_symlink():
            link.symlink_to(outside)

    def kinds(self) -> dict[str, Callable[[], tuple[str, bytes]]]:
        return {
            "random bytes": self.random_bytes,
            "mutated": self.mutated,
            "truncated": self.truncated,
            "oversized message": self.oversized,
            "huge string": self.huge_string,
            "bad enum": self.bad_enum,
            "path traversal": self.traversal,
            "host not allowed": self.not_allowed,
            "unmapped vo": self.unmapped,
        }

    def next(self) -> tuple[str, str, bytes]:
        """(kind, rpc, request bytes)."""
        kinds = self.kinds()
        # An oversized message costs 4 MiB on the wire: one in a hundred is enough.
        kind = (
            "oversized message"
            if self._random.random() < 0.01
            else self._random.choice([k for k in kinds if k != "oversized message"])
        )
        rpc, payload = kinds[kind]()
        return kind, rpc, payload

    # -- the kinds ---------------------------------------------------------------------------------

    def random_bytes(self) -> tuple[str, bytes]:
        return self._random.choice(UNARY + STREAMING), self._random.randbytes(self._random.randint(0, 600))

    def mutated(self) -> tuple[str, bytes]:
        data = bytearray(self._serialized(self._appliance()))
        for _ in range(self._random.randint(1, 4)):
            where = self._random.randint(0, len(data))
            how = self._random.choice(["flip", "drop", "insert", "cut"])
            if how == "flip" and where < len(data):
                data[where] ^= self._random.randint(1, 255)
            elif how == "drop":
                del data[where : where + self._random.randint(1, 8)]
            elif how == "insert":
                data[where:where] = self._random.randbytes(self._random.randint(1, 8))
            elif how == "cut":
                del data[where:]
        return self._random.choice(APPLIANCE_RPCS + STREAMING), bytes(data)

    def truncated(self) -> tuple[str, bytes]:
        data = self._serialized(self._appliance())
        return self._random.choice(APPLIANCE_RPCS), data[: self._random.randint(1, len(data) - 1)]

    def oversized(self) -> tuple[str, bytes]:
        appliance = self._appliance()
        appliance.description = "x" * (MAX_MESSAGE + self._random.randint(1, 1024))
        return self._random.choice(APPLIANCE_RPCS), self._serialized(appliance)

    def huge_string(self) -> tuple[str, bytes]:
        appliance = self._appliance()
        name = self._random.choice(
            ["identifier", "title", "vo", "image_list_identifier", "description", "digest"]
        )
        size = self._random.choice([65_536, 200_000, 1_000_000, 3_000_000])
        setattr(appliance, name, self._random.choice("xé☃\x00") * size)
        if self._random.random() < 0.3:
            appliance.image.location = str(self.spool / ("a" * 255)) * (size // 300)
        return self._random.choice(APPLIANCE_RPCS), self._serialized(appliance)

    def bad_enum(self) -> tuple[str, bytes]:
        appliance = self._appliance()
        name = self._random.choice(["mode", "format", "container_format"])
        setattr(appliance.image, name, self._random.choice([-1, 7, 99, 2**31 - 1, -(2**31)]))
        return self._random.choice(["AddAppliance", "UpdateAppliance"]), self._serialized(appliance)

    def traversal(self) -> tuple[str, bytes]:
        appliance = self._appliance()
        appliance.image.location = self._random.choice(
            [
                str(self.spool / ".." / "outside.img"),
                str(self.spool / ".." / ".." / ".." / "etc" / "passwd"),
                str(self.spool / "link-out.img"),
                f"{self.spool}/../{self.spool.name}x/img",
                "/etc/shadow",
                "/proc/self/environ",
                "/dev/zero",
                "../../etc/passwd",
                str(self.spool),
                str(self.spool / "missing.img"),
                str(self.spool / "a\x00b"),
            ]
        )
        self._checksum_of(appliance, b"outside the spool")
        return self._random.choice(["AddAppliance", "UpdateAppliance"]), self._serialized(appliance)

    def not_allowed(self) -> tuple[str, bytes]:
        appliance = self._appliance()
        appliance.image.mode = client().pb2.Image.REMOTE
        appliance.image.location = self._random.choice(NOT_ALLOWED_URLS)
        return self._random.choice(["AddAppliance", "UpdateAppliance"]), self._serialized(appliance)

    def unmapped(self) -> tuple[str, bytes]:
        appliance = self._appliance()
        appliance.vo = self._random.choice(
            ["unmapped.example.org", "", " fedcloud.egi.eu", "FEDCLOUD.EGI.EU"]
        )
        return self._random.choice(APPLIANCE_RPCS), self._serialized(appliance)

    # -- the base request -------------------------------------------------------------------------

    def _appliance(self) -> Any:
        """A well-formed request for an appliance the catalog does not hold, offering a missing file."""
        listed = core.ImageList.load(LISTS["v2"])
        location = str(self.spool / f"missing-{self._random.randrange(1 << 30)}.qcow2")
        appliance = core.to_appliance(
            client().pb2, listed, listed.entry(UBUNTU), location=location, fmt="QCOW2"
        )
        appliance.identifier = f"hostile-{self._random.randrange(1 << 30)}"
        appliance.vo = "fedcloud.egi.eu"
        return appliance

    def _checksum_of(self, appliance: Any, data: bytes) -> None:
        appliance.image.checksum = hashlib.sha512(data).hexdigest()
        appliance.image.size = len(data)

    @staticmethod
    def _serialized(message: Any) -> bytes:
        data: bytes = message.SerializeToString()
        return data


def raw_call(channel: grpc.Channel, rpc: str, payload: bytes) -> grpc.StatusCode:
    """The bytes as the RPC's request, without any serialization; a stream read to its end."""
    try:
        if rpc in STREAMING:
            stream: grpc.UnaryStreamMultiCallable[bytes, bytes] = channel.unary_stream(method(rpc))
            for _ in stream(payload, timeout=CALL_TIMEOUT):
                pass
        else:
            unary: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method(rpc))
            unary(payload, timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def send(hostile: Hostile, channel: grpc.Channel) -> tuple[str, str, grpc.StatusCode]:
    """One hostile request: (kind, rpc, code); recorded in hostile.outcomes."""
    kind, rpc, payload = hostile.next()
    started = time.monotonic()
    code = raw_call(channel, rpc, payload)
    hostile.slowest = max(hostile.slowest, time.monotonic() - started)
    hostile.outcomes[(kind, code.name)] += 1
    return kind, rpc, code


def spool_unchanged(spool: Path, before: set[str]) -> bool:
    return set(os.listdir(spool)) == before


@define
class Barrage:
    """What a barrage of hostile requests found."""

    requests: int
    seconds: float
    outcomes: Counter[tuple[str, str]]
    slowest: float
    rss_kib: list[int]  # the daemon's VmRSS at each check


def barrage(
    target: str,
    spool: Path,
    count: int,
    *,
    seed: int,
    check_every: int,
    still_answers: Callable[[], None],
    rss_kib: Callable[[], int],
) -> Barrage:
    """`count` hostile requests on one channel; every `check_every`, the daemon must still answer
    (still_answers fails otherwise) and its memory is sampled. Every code must be one of ACCEPTED."""
    hostile = Hostile(spool, seed=seed)
    samples = [rss_kib()]
    started = time.monotonic()
    with grpc.insecure_channel(
        target, options=[("grpc.max_send_message_length", 2 * MAX_MESSAGE)]
    ) as channel:
        for n in range(1, count + 1):
            kind, rpc, code = send(hostile, channel)
            assert code in ACCEPTED, (n, kind, rpc, code)
            if n % check_every == 0 or n == count:
                still_answers()
                samples.append(rss_kib())
    return Barrage(count, time.monotonic() - started, hostile.outcomes, hostile.slowest, samples)

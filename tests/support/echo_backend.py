"""A scripted, obviously correct backend for checking the core simulator itself.

It keeps appliances in a dict, echoes them as stored, checks each offered file while the call
runs, and fails the RPCs it is told to fail. Built only from the independent client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from attrs import define, field

from support.independent_client import client


@define
class EchoBackend:
    now: int
    stored: dict[str, Any] = field(factory=dict)
    fail: dict[str, grpc.StatusCode] = field(factory=dict)
    broken_entry: str = ""  # an Appliance field to blank in every Appliances entry ("image" drops it)
    offered: list[tuple[str, bool]] = field(factory=list)  # (identifier, file matched the message)

    def _enter(self, rpc: str, context: grpc.ServicerContext) -> None:
        code = self.fail.get(rpc)
        if code is not None:
            context.abort(code, f"scripted failure of {rpc}")

    def _empty(self) -> Any:
        return client().empty()

    def PreAction(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("PreAction", context)
        return self._empty()

    def PostAction(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("PostAction", context)
        return self._empty()

    def RemoveExpiredAppliances(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("RemoveExpiredAppliances", context)
        for key, appliance in list(self.stored.items()):
            if 0 < appliance.expiration_date <= self.now:
                del self.stored[key]
        return self._empty()

    def _store(self, request: Any) -> None:
        path = Path(request.image.location)
        data = path.read_bytes() if path.is_file() else b""
        announced = (request.image.size, request.image.checksum)
        self.offered.append((request.identifier, (len(data), hashlib.sha512(data).hexdigest()) == announced))
        stored = client().pb2.Appliance()
        stored.CopyFrom(request)
        for name in ("location", "username", "password"):
            stored.image.ClearField(name)
        self.stored[request.identifier] = stored

    def AddAppliance(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("AddAppliance", context)
        self._store(request)
        return self._empty()

    def UpdateAppliance(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("UpdateAppliance", context)
        self._store(request)
        return self._empty()

    def UpdateApplianceMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("UpdateApplianceMetadata", context)
        stored = self.stored[request.identifier]
        image = stored.image
        stored.CopyFrom(request)
        stored.image.CopyFrom(image)
        return self._empty()

    def RemoveAppliance(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("RemoveAppliance", context)
        self.stored.pop(request.identifier, None)
        return self._empty()

    def RemoveImageList(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._enter("RemoveImageList", context)
        for key, appliance in list(self.stored.items()):
            if appliance.image_list_identifier == request.image_list_identifier:
                del self.stored[key]
        return self._empty()

    def ImageLists(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._enter("ImageLists", context)
        lists = sorted({appliance.image_list_identifier for appliance in self.stored.values()})
        for identifier in lists:
            yield client().pb2.ImageListIdentifier(image_list_identifier=identifier)

    def Appliances(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._enter("Appliances", context)
        for key in sorted(self.stored):
            appliance = self.stored[key]
            if appliance.image_list_identifier != request.image_list_identifier:
                continue
            entry = client().pb2.Appliance()
            entry.CopyFrom(appliance)
            if self.broken_entry.startswith("image."):
                entry.image.ClearField(self.broken_entry.removeprefix("image."))
            elif self.broken_entry:
                entry.ClearField(self.broken_entry)
            yield entry


@contextmanager
def serving(backend: EchoBackend) -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    client().pb2_grpc.add_CommunicatorServicer_to_server(backend, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)

"""The Communicator handlers: decode, run the synchronous use case (see invocation.py), answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

import grpc

from ckos.domain.model import Appliance, ImageSource
from ckos.entrypoints.grpc import contract, wire
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc._generated.google.protobuf import Empty
from ckos.entrypoints.grpc.invocation import Invoker
from ckos.entrypoints.grpc.registration import Bound

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]


class CommunicatorBackend(Protocol):
    """What the servicer needs: ckos.domain.backend.Backend, or a stand-in in tests."""

    def pre_action(self) -> object: ...
    def post_action(self) -> object: ...
    def add_appliance(self, appliance: Appliance, source: ImageSource | None) -> object: ...
    def update_appliance(self, appliance: Appliance, source: ImageSource | None) -> object: ...
    def update_appliance_metadata(self, appliance: Appliance) -> object: ...
    def remove_appliance(self, appliance: Appliance) -> object: ...
    def remove_image_list(self, image_list_identifier: str) -> object: ...
    def image_lists(self) -> Sequence[str]: ...
    def appliances(self, image_list_identifier: str) -> Sequence[Appliance]: ...
    def remove_expired_appliances(self) -> object: ...


class Communicator:
    def __init__(self, backend: CommunicatorBackend, invoker: Invoker | None = None) -> None:
        self._backend = backend
        self._invoker = invoker or Invoker()

    def bindings(self) -> list[Bound]:
        return [
            contract.PRE_ACTION.bind(self.pre_action),
            contract.POST_ACTION.bind(self.post_action),
            contract.ADD_APPLIANCE.bind(self.add_appliance),
            contract.UPDATE_APPLIANCE.bind(self.update_appliance),
            contract.UPDATE_APPLIANCE_METADATA.bind(self.update_appliance_metadata),
            contract.REMOVE_APPLIANCE.bind(self.remove_appliance),
            contract.REMOVE_IMAGE_LIST.bind(self.remove_image_list),
            contract.IMAGE_LISTS.bind(self.image_lists),
            contract.APPLIANCES.bind(self.appliances),
            contract.REMOVE_EXPIRED_APPLIANCES.bind(self.remove_expired_appliances),
        ]

    async def pre_action(self, _request: Empty, context: Context) -> Empty:
        await self._run(context, "PreAction", {}, self._backend.pre_action)
        return Empty()

    async def post_action(self, _request: Empty, context: Context) -> Empty:
        await self._run(context, "PostAction", {}, self._backend.post_action)
        return Empty()

    async def add_appliance(self, request: pb.Appliance, context: Context) -> Empty:
        await self._run(context, "AddAppliance", _about(request), partial(self._register, "add", request))
        return Empty()

    async def update_appliance(self, request: pb.Appliance, context: Context) -> Empty:
        await self._run(
            context, "UpdateAppliance", _about(request), partial(self._register, "update", request)
        )
        return Empty()

    async def update_appliance_metadata(self, request: pb.Appliance, context: Context) -> Empty:
        call = partial(self._without_image, self._backend.update_appliance_metadata, request)
        await self._run(context, "UpdateApplianceMetadata", _about(request), call)
        return Empty()

    async def remove_appliance(self, request: pb.Appliance, context: Context) -> Empty:
        call = partial(self._without_image, self._backend.remove_appliance, request)
        await self._run(context, "RemoveAppliance", _about(request), call)
        return Empty()

    async def remove_image_list(self, request: pb.ImageListIdentifier, context: Context) -> Empty:
        list_id = request.image_list_identifier
        call = partial(self._backend.remove_image_list, list_id)
        await self._run(context, "RemoveImageList", {"list": list_id}, call)
        return Empty()

    async def image_lists(self, _request: Empty, context: Context) -> AsyncIterator[pb.ImageListIdentifier]:
        # The whole answer is computed before the first item, so a failure sends none.
        for item in await self._run(context, "ImageLists", {}, self._image_lists):
            yield item

    async def appliances(
        self, request: pb.ImageListIdentifier, context: Context
    ) -> AsyncIterator[pb.Appliance]:
        list_id = request.image_list_identifier
        for item in await self._run(
            context, "Appliances", {"list": list_id}, partial(self._appliances, list_id)
        ):
            yield item

    async def remove_expired_appliances(self, _request: Empty, context: Context) -> Empty:
        await self._run(context, "RemoveExpiredAppliances", {}, self._backend.remove_expired_appliances)
        return Empty()

    async def _run(self, context: Context, rpc: str, about: dict[str, str], call: Callable[[], T]) -> T:
        return await self._invoker.run(context, rpc, about, call)

    # The blocking parts, run in a worker thread: decoding is inside so its errors map too.

    def _register(self, kind: str, request: pb.Appliance) -> object:
        appliance, source = wire.appliance_from_wire(request)
        if kind == "add":
            return self._backend.add_appliance(appliance, source)
        return self._backend.update_appliance(appliance, source)

    def _without_image(self, method: Callable[[Appliance], object], request: pb.Appliance) -> object:
        # An image, if the core ever sent one here, is not read: these calls never transfer data.
        return method(wire.appliance_from_wire(request)[0])

    def _image_lists(self) -> list[pb.ImageListIdentifier]:
        return [wire.list_identifier_to_wire(list_id) for list_id in self._backend.image_lists()]

    def _appliances(self, list_id: str) -> list[pb.Appliance]:
        return [wire.appliance_to_wire(appliance) for appliance in self._backend.appliances(list_id)]


def _about(request: pb.Appliance) -> dict[str, str]:
    return {"appliance": request.identifier, "list": request.image_list_identifier, "vo": request.vo}

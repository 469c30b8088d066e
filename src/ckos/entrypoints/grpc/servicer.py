"""The Communicator handlers of every layout: translate, run the synchronous use case, answer.

Requests of the other layouts are translated to core 2.0 messages (layouts.py) and those to the
domain (wire.py); invocation.py runs the use case and reports its outcome the layout's way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

import betterproto2
import grpc

from ckos.domain.model import Appliance, ImageSource
from ckos.entrypoints.grpc import wire
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as pb
from ckos.entrypoints.grpc.invocation import Invoker
from ckos.entrypoints.grpc.protocols import Layout
from ckos.entrypoints.grpc.registration import Bound

T = TypeVar("T")
A = TypeVar("A", bound=betterproto2.Message)
L = TypeVar("L", bound=betterproto2.Message)
E = TypeVar("E", bound=betterproto2.Message)
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


class Communicator(Generic[A, L, E]):
    def __init__(self, backend: CommunicatorBackend, layout: Layout[A, L, E], invoker: Invoker | None = None):
        self._backend = backend
        self._layout = layout
        self._invoker = invoker or Invoker(outcomes=layout.outcomes)

    def bindings(self) -> list[Bound]:
        rpcs = self._layout.contract
        bound = [
            rpcs.pre_action.bind(self.pre_action),
            rpcs.post_action.bind(self.post_action),
            rpcs.add_appliance.bind(self.add_appliance),
            rpcs.update_appliance.bind(self.update_appliance),
            rpcs.remove_appliance.bind(self.remove_appliance),
            rpcs.remove_image_list.bind(self.remove_image_list),
            rpcs.image_lists.bind(self.image_lists),
            rpcs.appliances.bind(self.appliances),
        ]
        if rpcs.update_appliance_metadata is not None:
            bound.append(rpcs.update_appliance_metadata.bind(self.update_appliance_metadata))
        if rpcs.remove_expired_appliances is not None:
            bound.append(rpcs.remove_expired_appliances.bind(self.remove_expired_appliances))
        return bound

    async def pre_action(self, _request: E, context: Context) -> E:
        call = self._backend.pre_action
        if self._layout.contract.remove_expired_appliances is None:
            # The core 1.x has no RemoveExpiredAppliances: its runs expire and collect here.
            call = self._backend.remove_expired_appliances
        await self._run(context, "PreAction", {}, call)
        return self._layout.empty()

    async def post_action(self, _request: E, context: Context) -> E:
        await self._run(context, "PostAction", {}, self._backend.post_action)
        return self._layout.empty()

    async def add_appliance(self, request: A, context: Context) -> E:
        message = self._layout.appliance_from(request)
        await self._run(context, "AddAppliance", _about(message), partial(self._register, "add", message))
        return self._layout.empty()

    async def update_appliance(self, request: A, context: Context) -> E:
        message = self._layout.appliance_from(request)
        call = partial(self._register, "update", message)
        if message.image is None and self._layout.contract.update_appliance_metadata is None:
            # The core 1.x has no UpdateApplianceMetadata: it sends metadata changes without an image.
            call = partial(self._without_image, self._backend.update_appliance_metadata, message)
        await self._run(context, "UpdateAppliance", _about(message), call)
        return self._layout.empty()

    async def update_appliance_metadata(self, request: A, context: Context) -> E:
        message = self._layout.appliance_from(request)
        call = partial(self._without_image, self._backend.update_appliance_metadata, message)
        await self._run(context, "UpdateApplianceMetadata", _about(message), call)
        return self._layout.empty()

    async def remove_appliance(self, request: A, context: Context) -> E:
        message = self._layout.appliance_from(request)
        call = partial(self._without_image, self._backend.remove_appliance, message)
        await self._run(context, "RemoveAppliance", _about(message), call)
        return self._layout.empty()

    async def remove_image_list(self, request: L, context: Context) -> E:
        list_id = self._layout.list_identifier_of(request)
        call = partial(self._backend.remove_image_list, list_id)
        await self._run(context, "RemoveImageList", {"list": list_id}, call)
        return self._layout.empty()

    async def image_lists(self, _request: E, context: Context) -> AsyncIterator[L]:
        # The whole answer is computed before the first item, so a failure sends none.
        for item in await self._run(context, "ImageLists", {}, self._image_lists):
            yield item

    async def appliances(self, request: L, context: Context) -> AsyncIterator[A]:
        list_id = self._layout.list_identifier_of(request)
        call = partial(self._appliances, list_id)
        for item in await self._run(context, "Appliances", {"list": list_id}, call):
            yield item

    async def remove_expired_appliances(self, _request: E, context: Context) -> E:
        await self._run(context, "RemoveExpiredAppliances", {}, self._backend.remove_expired_appliances)
        return self._layout.empty()

    async def _run(self, context: Context, rpc: str, about: dict[str, str], call: Callable[[], T]) -> T:
        return await self._invoker.run(context, rpc, about, call)

    # The blocking parts, run in a worker thread: decoding is inside so its errors map too.

    def _register(self, kind: str, message: pb.Appliance) -> object:
        appliance, source = wire.appliance_from_wire(message)
        if kind == "add":
            return self._backend.add_appliance(appliance, source)
        return self._backend.update_appliance(appliance, source)

    def _without_image(self, method: Callable[[Appliance], object], message: pb.Appliance) -> object:
        # An image, if the core ever sent one here, is not read: these calls never transfer data.
        return method(wire.appliance_from_wire(message)[0])

    def _image_lists(self) -> list[L]:
        return [self._layout.list_identifier(list_id) for list_id in self._backend.image_lists()]

    def _appliances(self, list_id: str) -> list[A]:
        stored = self._backend.appliances(list_id)
        return [self._layout.appliance_to(wire.appliance_to_wire(appliance)) for appliance in stored]


def _about(message: pb.Appliance) -> dict[str, str]:
    return {"appliance": message.identifier, "list": message.image_list_identifier, "vo": message.vo}

"""Typed handler registration: each RPC is declared once with its kind and message types.

Neither betterproto nor betterproto2 generates a grpcio server, so handlers are registered
with grpcio directly. A declaration only accepts a handler of the matching shape (mypy checks
it), and a service refuses to build while any declared RPC has no handler.

Requests are parsed here rather than by grpcio's deserializer hook: grpcio answers a request
that fails to deserialize with a bare UNKNOWN (aio) or INTERNAL, where it is a bad request.
How a failure reaches the core is the layout's (outcomes.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, ClassVar, Generic, TypeVar

import betterproto2
import grpc
from attrs import frozen
from loguru import logger

from ckos.domain.errors import InvalidRequest
from ckos.entrypoints.grpc.outcomes import STATUS_CODES, Outcomes, Reported
from ckos.entrypoints.grpc.strict import parse_strictly

Req = TypeVar("Req", bound=betterproto2.Message)
Resp = TypeVar("Resp", bound=betterproto2.Message)
Context = grpc.aio.ServicerContext[Any, Any]


class MissingHandler(RuntimeError):
    """A declared RPC has no handler (or a handler names an RPC the service does not declare)."""


@frozen
class Unary(Generic[Req, Resp]):
    """A unary-unary RPC."""

    name: str
    request: type[Req]
    response: type[Resp]
    server_streaming: ClassVar[bool] = False

    def bind(self, handler: Callable[[Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]) -> Bound:
        return Bound(self, handler)


@frozen
class ServerStream(Generic[Req, Resp]):
    """A unary-stream RPC: one request, a stream of responses."""

    name: str
    request: type[Req]
    response: type[Resp]
    server_streaming: ClassVar[bool] = True

    def bind(
        self, handler: Callable[[Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]]
    ) -> Bound:
        return Bound(self, handler)


Rpc = Unary[Any, Any] | ServerStream[Any, Any]


@frozen
class Bound:
    """A handler bound to its declaration (bind() checked their types), ready for registration."""

    rpc: Rpc
    handler: Callable[[Any, Context], Any]

    def method(self, outcomes: Outcomes) -> grpc.RpcMethodHandler[Any, Any]:
        rpc, handler = self.rpc, self.handler
        if rpc.server_streaming:

            async def stream(data: bytes, context: Context) -> AsyncIterator[Any]:
                try:
                    async for item in handler(await parse(rpc, data, context, outcomes), context):
                        yield item
                except Reported:
                    return

            return grpc.unary_stream_rpc_method_handler(stream, response_serializer=bytes)

        async def unary(data: bytes, context: Context) -> Any:
            try:
                return await handler(await parse(rpc, data, context, outcomes), context)
            except Reported:
                return rpc.response()

        return grpc.unary_unary_rpc_method_handler(unary, response_serializer=bytes)


async def parse(rpc: Rpc, data: bytes, context: Context, outcomes: Outcomes) -> Any:
    """The request message; a malformed one fails the call as an invalid request."""
    try:
        return parse_strictly(rpc.request, data)
    except Exception as error:  # betterproto2 raises several kinds on bad bytes
        logger.bind(rpc=rpc.name, outcome="INVALID_ARGUMENT").warning(
            "{}: malformed request: {!r}", rpc.name, error
        )
        refused = InvalidRequest(f"{rpc.name}: malformed request: {error}")
        await outcomes.failed(context, refused, str(refused))


@frozen
class Service:
    """A service: its full name and every RPC it declares."""

    name: str
    rpcs: tuple[Rpc, ...]

    def generic_handler(
        self, bound: Iterable[Bound], outcomes: Outcomes = STATUS_CODES
    ) -> grpc.GenericRpcHandler:
        """The grpcio handler serving exactly the declared RPCs; raises MissingHandler otherwise.

        `outcomes` is how the layout reports a request that fails to parse.
        """
        methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        for item in bound:
            # Identity, not name: a handler bound to another service's declaration is a mistake.
            if not any(item.rpc is rpc for rpc in self.rpcs):
                raise MissingHandler(f"{self.name} does not declare the RPC {item.rpc.name}")
            if item.rpc.name in methods:
                raise MissingHandler(f"{self.name}/{item.rpc.name} has two handlers")
            methods[item.rpc.name] = item.method(outcomes)
        missing = [rpc.name for rpc in self.rpcs if rpc.name not in methods]
        if missing:
            raise MissingHandler(f"{self.name}: no handler for {', '.join(missing)}")
        return grpc.method_handlers_generic_handler(self.name, methods)

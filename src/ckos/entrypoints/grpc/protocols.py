"""The wire layouts a server may speak, chosen by `[server] protocol`.

A layout is its generated package (messages, descriptor set), its RPC declarations, how its
Appliance messages translate to core 2.0 ones (layouts.py; wire.py maps those to the domain) and
how it reports outcomes. The domain is the same under every layout, and so are the images: a
site that changes its core's layout keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, Generic, TypeVar

import betterproto2
from attrs import frozen

from ckos.entrypoints.grpc import _generated, _generated_core1, _generated_proto2019, contract, layouts
from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as core20
from ckos.entrypoints.grpc._generated.google.protobuf import Empty as Core20Empty
from ckos.entrypoints.grpc._generated_core1 import cloudkeeper_grpc as core1
from ckos.entrypoints.grpc._generated_core1.google.protobuf import Empty as Core1Empty
from ckos.entrypoints.grpc._generated_proto2019 import cloudkeeper_grpc as proto2019
from ckos.entrypoints.grpc._generated_proto2019.google.protobuf import Empty as Proto2019Empty
from ckos.entrypoints.grpc.contract import Contract
from ckos.entrypoints.grpc.outcomes import STATUS_CODES, TRAILING_STATUS, Outcomes

A = TypeVar("A", bound=betterproto2.Message)  # the layout's Appliance
L = TypeVar("L", bound=betterproto2.Message)  # its ImageListIdentifier
E = TypeVar("E", bound=betterproto2.Message)  # its google.protobuf.Empty


@frozen
class Layout(Generic[A, L, E]):
    """One wire layout, with its own message types A (Appliance), L (ImageListIdentifier), E (Empty)."""

    name: str  # as `[server] protocol` names it
    package: ModuleType  # the generated package: its descriptor set is what reflection describes
    contract: Contract[A, L, E]
    appliance_from: Callable[[A], core20.Appliance]
    appliance_to: Callable[[core20.Appliance], A]
    list_identifier: Callable[[str], L]
    list_identifier_of: Callable[[L], str]
    empty: Callable[[], E]
    outcomes: Outcomes


def _same(message: core20.Appliance) -> core20.Appliance:
    return message


CORE_20: Layout[core20.Appliance, core20.ImageListIdentifier, Core20Empty] = Layout(
    name="core-2.0",
    package=_generated,
    contract=contract.CORE_20,
    appliance_from=_same,
    appliance_to=_same,
    list_identifier=core20.ImageListIdentifier,
    list_identifier_of=lambda message: message.image_list_identifier,
    empty=Core20Empty,
    outcomes=STATUS_CODES,
)
CORE_1: Layout[core1.Appliance, core1.ImageListIdentifier, Core1Empty] = Layout(
    name="core-1",
    package=_generated_core1,
    contract=contract.CORE_1,
    appliance_from=layouts.from_core1,
    appliance_to=layouts.to_core1,
    list_identifier=core1.ImageListIdentifier,
    list_identifier_of=lambda message: message.image_list_identifier,
    empty=Core1Empty,
    outcomes=TRAILING_STATUS,
)
PROTO_2019: Layout[proto2019.Appliance, proto2019.ImageListIdentifier, Proto2019Empty] = Layout(
    name="proto-2019",
    package=_generated_proto2019,
    contract=contract.PROTO_2019,
    appliance_from=layouts.from_proto2019,
    appliance_to=layouts.to_proto2019,
    list_identifier=proto2019.ImageListIdentifier,
    list_identifier_of=lambda message: message.image_list_identifier,
    empty=Proto2019Empty,
    outcomes=STATUS_CODES,
)

LAYOUTS: dict[str, Layout[Any, Any, Any]] = {layout.name: layout for layout in (CORE_20, CORE_1, PROTO_2019)}

"""The Communicator service of each wire layout: every RPC declared once, with its layout's types.

tests/entrypoints/test_registration.py checks each layout's declarations against that layout's
compiled descriptor set, so a change to a proto file cannot drift away from them unnoticed.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import betterproto2
from attrs import frozen

from ckos.entrypoints.grpc._generated import cloudkeeper_grpc as core20
from ckos.entrypoints.grpc._generated.google import protobuf as core20_protobuf
from ckos.entrypoints.grpc._generated_core1 import cloudkeeper_grpc as core1
from ckos.entrypoints.grpc._generated_core1.google import protobuf as core1_protobuf
from ckos.entrypoints.grpc._generated_proto2019 import cloudkeeper_grpc as proto2019
from ckos.entrypoints.grpc._generated_proto2019.google import protobuf as proto2019_protobuf
from ckos.entrypoints.grpc.registration import Rpc, ServerStream, Service, Unary

A = TypeVar("A", bound=betterproto2.Message)  # the layout's Appliance
L = TypeVar("L", bound=betterproto2.Message)  # its ImageListIdentifier
E = TypeVar("E", bound=betterproto2.Message)  # its google.protobuf.Empty

SERVICE_NAME = "cloudkeeper_grpc.Communicator"  # the same in every layout


@frozen
class Contract(Generic[A, L, E]):
    """The RPCs of one layout; the core 1.x has neither of the last two."""

    pre_action: Unary[E, E]
    post_action: Unary[E, E]
    add_appliance: Unary[A, E]
    update_appliance: Unary[A, E]
    remove_appliance: Unary[A, E]
    remove_image_list: Unary[L, E]
    image_lists: ServerStream[E, L]
    appliances: ServerStream[L, A]
    update_appliance_metadata: Unary[A, E] | None
    remove_expired_appliances: Unary[E, E] | None

    @property
    def service(self) -> Service:
        declared: list[Rpc | None] = [
            self.pre_action,
            self.post_action,
            self.add_appliance,
            self.update_appliance,
            self.update_appliance_metadata,
            self.remove_appliance,
            self.remove_image_list,
            self.image_lists,
            self.appliances,
            self.remove_expired_appliances,
        ]
        return Service(SERVICE_NAME, tuple(rpc for rpc in declared if rpc is not None))


def declare(
    appliance: type[A], list_identifier: type[L], empty: type[E], *, core1_rpcs_only: bool = False
) -> Contract[A, L, E]:
    """The RPCs of a layout, from its message types (all ten, or the eight of the core 1.x)."""
    return Contract(
        pre_action=Unary("PreAction", empty, empty),
        post_action=Unary("PostAction", empty, empty),
        add_appliance=Unary("AddAppliance", appliance, empty),
        update_appliance=Unary("UpdateAppliance", appliance, empty),
        remove_appliance=Unary("RemoveAppliance", appliance, empty),
        remove_image_list=Unary("RemoveImageList", list_identifier, empty),
        image_lists=ServerStream("ImageLists", empty, list_identifier),
        appliances=ServerStream("Appliances", list_identifier, appliance),
        update_appliance_metadata=(
            None if core1_rpcs_only else Unary("UpdateApplianceMetadata", appliance, empty)
        ),
        remove_expired_appliances=None if core1_rpcs_only else Unary("RemoveExpiredAppliances", empty, empty),
    )


CORE_20 = declare(core20.Appliance, core20.ImageListIdentifier, core20_protobuf.Empty)
CORE_1 = declare(core1.Appliance, core1.ImageListIdentifier, core1_protobuf.Empty, core1_rpcs_only=True)
PROTO_2019 = declare(proto2019.Appliance, proto2019.ImageListIdentifier, proto2019_protobuf.Empty)

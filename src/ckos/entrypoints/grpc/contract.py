"""The Communicator service of the core 2.0 wire contract: every RPC declared once.

tests/entrypoints/test_registration.py checks these against the compiled descriptor set,
so a change to proto/cloudkeeper.proto cannot drift away from them unnoticed.
"""

from __future__ import annotations

from ckos.entrypoints.grpc._generated.cloudkeeper_grpc import Appliance, ImageListIdentifier
from ckos.entrypoints.grpc._generated.google.protobuf import Empty
from ckos.entrypoints.grpc.registration import ServerStream, Service, Unary

SERVICE_NAME = "cloudkeeper_grpc.Communicator"

PRE_ACTION = Unary("PreAction", Empty, Empty)
POST_ACTION = Unary("PostAction", Empty, Empty)
ADD_APPLIANCE = Unary("AddAppliance", Appliance, Empty)
UPDATE_APPLIANCE = Unary("UpdateAppliance", Appliance, Empty)
UPDATE_APPLIANCE_METADATA = Unary("UpdateApplianceMetadata", Appliance, Empty)
REMOVE_APPLIANCE = Unary("RemoveAppliance", Appliance, Empty)
REMOVE_IMAGE_LIST = Unary("RemoveImageList", ImageListIdentifier, Empty)
IMAGE_LISTS = ServerStream("ImageLists", Empty, ImageListIdentifier)
APPLIANCES = ServerStream("Appliances", ImageListIdentifier, Appliance)
REMOVE_EXPIRED_APPLIANCES = Unary("RemoveExpiredAppliances", Empty, Empty)

COMMUNICATOR = Service(
    SERVICE_NAME,
    (
        PRE_ACTION,
        POST_ACTION,
        ADD_APPLIANCE,
        UPDATE_APPLIANCE,
        UPDATE_APPLIANCE_METADATA,
        REMOVE_APPLIANCE,
        REMOVE_IMAGE_LIST,
        IMAGE_LISTS,
        APPLIANCES,
        REMOVE_EXPIRED_APPLIANCES,
    ),
)

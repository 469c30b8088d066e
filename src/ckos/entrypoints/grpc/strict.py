"""Strict request parsing: the protobuf runtime checks the bytes before betterproto2 reads them.

betterproto2 accepts a truncated message (a cut string reads as its prefix) and a field sent
with another wire type (an int64 read as a list). Either would reach the use cases as wrong
values. protobuf's own parser refuses the first and sets the second aside as an unknown field,
which, under a number this layout declares, is a malformed request.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from types import ModuleType
from typing import Any, TypeVar

import betterproto2
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, unknown_fields
from google.protobuf.message import DecodeError, Message

from ckos.entrypoints.grpc import _generated, _generated_core1, _generated_proto2019
from ckos.entrypoints.grpc._generated import message_pool as core20_pool
from ckos.entrypoints.grpc._generated_core1 import message_pool as core1_pool
from ckos.entrypoints.grpc._generated_proto2019 import message_pool as proto2019_pool

M = TypeVar("M", bound=betterproto2.Message)


# Each wire layout is a generated package of its own, with its own message pool: the
# layouts share their message names, not their field numbers.
_MESSAGE_POOLS = {
    _generated: core20_pool.default_message_pool,
    _generated_core1: core1_pool.default_message_pool,
    _generated_proto2019: proto2019_pool.default_message_pool,
}


class MalformedRequest(ValueError):
    """The request bytes are not a valid message of the expected type."""


def descriptor_set(package: ModuleType = _generated) -> descriptor_pb2.FileDescriptorSet:
    """The compiled proto file of a layout, as protoc wrote it next to its generated code."""
    data = resources.files(package).joinpath("cloudkeeper.binpb").read_bytes()
    return descriptor_pb2.FileDescriptorSet.FromString(data)


@cache
def descriptors(package: ModuleType = _generated) -> descriptor_pool.DescriptorPool:
    """A layout's compiled proto file in a pool (betterproto2 registers nothing in protobuf's own)."""
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_set(package).file:  # dependencies come first
        pool.Add(file)
    return pool


def generated_package(message_type: type[betterproto2.Message]) -> ModuleType:
    """The generated package (the layout) a message class belongs to."""
    for package in _MESSAGE_POOLS:
        if message_type.__module__.startswith(f"{package.__name__}."):
            return package
    raise LookupError(f"{message_type.__qualname__} is no generated Cloudkeeper message")


def full_name(message_type: type[betterproto2.Message]) -> str:
    """The message's protobuf name, e.g. "cloudkeeper_grpc.Appliance"."""
    pool = _MESSAGE_POOLS[generated_package(message_type)]
    return pool.type_to_url[message_type].rsplit("/", 1)[-1]


def parse_strictly(message_type: type[M], data: bytes) -> M:
    """The message in `data`; raises MalformedRequest unless it is well formed."""
    name = full_name(message_type)
    pool = descriptors(generated_package(message_type))
    checker = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    try:
        checked = checker.FromString(data)
    except DecodeError as error:
        raise MalformedRequest(f"not a valid {name} message: {error}") from None
    _refuse_mistyped_fields(checked)
    return message_type.parse(data)


def _refuse_mistyped_fields(message: Message) -> None:
    known = message.DESCRIPTOR.fields_by_number
    for field in unknown_fields.UnknownFieldSet(message):  # type: ignore[attr-defined]
        if field.field_number in known:
            name = known[field.field_number].full_name
            raise MalformedRequest(f"field {name} arrived with the wrong wire type")
    for descriptor, value in message.ListFields():
        if descriptor.message_type is not None and not descriptor.is_repeated:
            nested: Any = value
            _refuse_mistyped_fields(nested)

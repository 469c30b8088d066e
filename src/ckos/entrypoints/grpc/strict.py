"""Strict request parsing: the protobuf runtime checks the bytes before betterproto2 reads them.

betterproto2 accepts a truncated message (a cut string reads as its prefix) and a field sent
with another wire type (an int64 read as a list). Either would reach the use cases as wrong
values. protobuf's own parser refuses the first and sets the second aside as an unknown field,
which, under a number this layout declares, is a malformed request.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, TypeVar

import betterproto2
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, unknown_fields
from google.protobuf.message import DecodeError, Message

from ckos.entrypoints.grpc import _generated
from ckos.entrypoints.grpc._generated.message_pool import default_message_pool

M = TypeVar("M", bound=betterproto2.Message)


class MalformedRequest(ValueError):
    """The request bytes are not a valid message of the expected type."""


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """The compiled proto/ files, as protoc wrote them next to the generated code."""
    data = resources.files(_generated).joinpath("cloudkeeper.binpb").read_bytes()
    return descriptor_pb2.FileDescriptorSet.FromString(data)


@cache
def descriptors() -> descriptor_pool.DescriptorPool:
    """The compiled proto/ files in a pool (betterproto2 registers nothing in protobuf's own)."""
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_set().file:  # dependencies come first
        pool.Add(file)
    return pool


def parse_strictly(message_type: type[M], data: bytes) -> M:
    """The message in `data`; raises MalformedRequest unless it is well formed."""
    full_name = default_message_pool.type_to_url[message_type].rsplit("/", 1)[-1]
    checker = message_factory.GetMessageClass(descriptors().FindMessageTypeByName(full_name))
    try:
        checked = checker.FromString(data)
    except DecodeError as error:
        raise MalformedRequest(f"not a valid {full_name} message: {error}") from None
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

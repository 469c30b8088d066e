"""A Cloudkeeper client generated from a layout's proto by the standard protobuf toolchain.

It stands in for the real core: nothing here comes from ckos, so a wire mistake in ckos's own
generated code or mapping cannot hide behind a shared one.

The three layouts share their proto package and message names, so their generated modules
cannot all live in protobuf's default descriptor pool: each layout's module is built into a
pool of its own (one line of the protoc output is changed for that, and nothing else).
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import sys
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from attrs import frozen
from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
# layout (as `[server] protocol` names it) -> the folder of its cloudkeeper.proto
PROTO_FOLDERS = {
    "core-2.0": PROTO_ROOT,
    "core-1": PROTO_ROOT / "core-1",
    "proto-2019": PROTO_ROOT / "proto-2019",
}
PROTO_NAME = "cloudkeeper.proto"
PROTO = PROTO_FOLDERS["core-2.0"] / PROTO_NAME
SERVICE = "cloudkeeper_grpc.Communicator"
PACKAGE = "independent_cloudkeeper"  # unlike any module of ckos, so nothing can shadow it
_DEFAULT_POOL = "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile("
_OWN_POOL = (
    "_LAYOUT_POOL = _descriptor_pool.DescriptorPool()\n"
    "_LAYOUT_POOL.AddSerializedFile(google_dot_protobuf_dot_empty__pb2.DESCRIPTOR.serialized_pb)\n"
    "DESCRIPTOR = _LAYOUT_POOL.AddSerializedFile("
)


@frozen
class Client:
    """The generated modules; typed Any because they are built at run time."""

    pb2: Any  # cloudkeeper_pb2: Appliance, Image, ImageListIdentifier
    pb2_grpc: Any  # cloudkeeper_pb2_grpc: CommunicatorStub
    empty_pb2: Any  # google.protobuf.empty_pb2, from the real protobuf package

    def stub(self, channel: Any) -> Any:
        return self.pb2_grpc.CommunicatorStub(channel)

    def empty(self) -> Any:
        return self.empty_pb2.Empty()


def method(rpc: str) -> str:
    """The full method path of an RPC, as the core calls it."""
    return f"/{SERVICE}/{rpc}"


@cache
def client(layout: str = "core-2.0") -> Client:
    """Generate a layout's modules once per test session into a temporary folder and import them."""
    proto = PROTO_FOLDERS[layout] / PROTO_NAME
    root = Path(tempfile.mkdtemp(prefix="ckos-independent-client-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    name = f"{PACKAGE}_{layout.replace('-', '_').replace('.', '_')}"
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    shutil.copy(proto, package / PROTO_NAME)
    well_known = resources.files("grpc_tools") / "_proto"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"--proto_path={root}",
            f"--proto_path={well_known}",
            f"--python_out={root}",
            f"--grpc_python_out={root}",
            str(package / PROTO_NAME),
        ]
    )
    if status != 0:
        raise RuntimeError(f"protoc failed with status {status} on {proto}")
    generated = package / "cloudkeeper_pb2.py"
    source = generated.read_text()
    if source.count(_DEFAULT_POOL) != 1:
        raise RuntimeError(f"unexpected protoc output in {generated}: no single registration")
    generated.write_text(source.replace(_DEFAULT_POOL, _OWN_POOL))
    sys.path.insert(0, str(root))
    try:
        pb2 = importlib.import_module(f"{name}.cloudkeeper_pb2")
        pb2_grpc = importlib.import_module(f"{name}.cloudkeeper_pb2_grpc")
    finally:
        sys.path.remove(str(root))
    empty_pb2 = importlib.import_module("google.protobuf.empty_pb2")
    return Client(pb2=pb2, pb2_grpc=pb2_grpc, empty_pb2=empty_pb2)

"""A Cloudkeeper client generated from the proto by the standard protobuf toolchain.

It stands in for the real core: nothing here comes from ckos, so a wire mistake in ckos's own
generated code or mapping cannot hide behind a shared one.
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

PROTO = Path(__file__).resolve().parents[2] / "proto" / "cloudkeeper.proto"
SERVICE = "cloudkeeper_grpc.Communicator"
PACKAGE = "independent_cloudkeeper"  # unlike any module of ckos, so nothing can shadow it


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
def client() -> Client:
    """Generate the modules once per test session into a temporary folder and import them."""
    root = Path(tempfile.mkdtemp(prefix="ckos-independent-client-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    package = root / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    shutil.copy(PROTO, package / PROTO.name)
    well_known = resources.files("grpc_tools") / "_proto"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"--proto_path={root}",
            f"--proto_path={well_known}",
            f"--python_out={root}",
            f"--grpc_python_out={root}",
            str(package / PROTO.name),
        ]
    )
    if status != 0:
        raise RuntimeError(f"protoc failed with status {status} on {PROTO}")
    sys.path.insert(0, str(root))
    try:
        pb2 = importlib.import_module(f"{PACKAGE}.cloudkeeper_pb2")
        pb2_grpc = importlib.import_module(f"{PACKAGE}.cloudkeeper_pb2_grpc")
    finally:
        sys.path.remove(str(root))
    empty_pb2 = importlib.import_module("google.protobuf.empty_pb2")
    return Client(pb2=pb2, pb2_grpc=pb2_grpc, empty_pb2=empty_pb2)

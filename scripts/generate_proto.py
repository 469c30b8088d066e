"""Regenerate the betterproto2 messages and the reflection descriptor sets from proto/.

    python scripts/generate_proto.py           # rewrite src/ckos/entrypoints/grpc/_generated*/
    python scripts/generate_proto.py --check   # exit 1 if the committed output is stale (CI)

Each wire layout (core 2.0, core 1.x, the 2019 upstream file) is a package of its own: they
share the proto package name `cloudkeeper_grpc` but not their field numbers.

The output goes into a package of its own: betterproto2 emits a `google/protobuf` package and a
`message_pool` module, imported relatively, which must never shadow the real google.protobuf.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTO_FILE = "cloudkeeper.proto"
GRPC = ROOT / "src" / "ckos" / "entrypoints" / "grpc"
# proto folder -> generated package
LAYOUTS = {
    ROOT / "proto": GRPC / "_generated",
    ROOT / "proto" / "core-1": GRPC / "_generated_core1",
    ROOT / "proto" / "proto-2019": GRPC / "_generated_proto2019",
}
DESCRIPTOR_SET = "cloudkeeper.binpb"
# Python leaves these next to the sources; they are never part of the output.
IGNORED = {"__pycache__"}


def generate(proto_dir: Path, into: Path) -> None:
    """Run grpcio-tools' bundled protoc with the pinned betterproto2 plugin into an empty folder."""
    env = dict(os.environ)
    # The plugin is found on PATH; the venv's bin dir is where pip installed it.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"--python_betterproto2_out={into}",
        f"--descriptor_set_out={into / DESCRIPTOR_SET}",
        "--include_imports",
        str(proto_dir / PROTO_FILE),
    ]
    # The plugin chatters "Writing ..." on stdout: keep it only for a failure.
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"protoc failed with exit code {result.returncode}")


def files_of(folder: Path) -> set[Path]:
    return {
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file() and not IGNORED.intersection(path.relative_to(folder).parts)
    }


def same_descriptor_set(left: Path, right: Path) -> bool:
    """Equal as descriptors: protoc does not promise byte-stable serialisation across versions."""
    if left.read_bytes() == right.read_bytes():
        return True
    sets = [descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()) for path in (left, right)]
    return sets[0] == sets[1]


def differences(fresh: Path, committed: Path) -> list[str]:
    if not committed.is_dir():
        return [f"{committed} does not exist"]
    fresh_files, committed_files = files_of(fresh), files_of(committed)
    problems = [f"missing: {name}" for name in sorted(fresh_files - committed_files)]
    problems += [f"unexpected: {name}" for name in sorted(committed_files - fresh_files)]
    for name in sorted(fresh_files & committed_files):
        if name == Path(DESCRIPTOR_SET):
            equal = same_descriptor_set(fresh / name, committed / name)
        else:
            equal = filecmp.cmp(fresh / name, committed / name, shallow=False)
        if not equal:
            problems.append(f"differs: {name}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed output is stale")
    args = parser.parse_args(argv)
    stale = 0
    for proto_dir, target in LAYOUTS.items():
        with tempfile.TemporaryDirectory() as scratch:
            fresh = Path(scratch) / target.name
            fresh.mkdir()
            generate(proto_dir, fresh)
            if args.check:
                stale += report(fresh, target, proto_dir)
                continue
            # Replace the whole folder so that files of removed protos do not linger.
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(fresh, target)
            print(f"regenerated {target.relative_to(ROOT)}")
    return 1 if stale else 0


def report(fresh: Path, target: Path, proto_dir: Path) -> int:
    """Print whether the committed package matches a fresh generation; 1 when it is stale."""
    problems = differences(fresh, target)
    if not problems:
        print(f"{target.relative_to(ROOT)} is up to date")
        return 0
    source = (proto_dir / PROTO_FILE).relative_to(ROOT)
    print(f"{target.relative_to(ROOT)} is stale against {source}:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    print("run: python scripts/generate_proto.py, then commit the result", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())

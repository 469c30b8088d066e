"""Regenerate the betterproto2 messages and the reflection descriptor set from proto/.

    python scripts/generate_proto.py           # rewrite src/ckos/entrypoints/grpc/_generated/
    python scripts/generate_proto.py --check   # exit 1 if the committed output is stale (CI)

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
PROTO_DIR = ROOT / "proto"
PROTO_FILE = "cloudkeeper.proto"
TARGET = ROOT / "src" / "ckos" / "entrypoints" / "grpc" / "_generated"
DESCRIPTOR_SET = "cloudkeeper.binpb"
# Python leaves these next to the sources; they are never part of the output.
IGNORED = {"__pycache__"}


def generate(into: Path) -> None:
    """Run grpcio-tools' bundled protoc with the pinned betterproto2 plugin into an empty folder."""
    env = dict(os.environ)
    # The plugin is found on PATH; the venv's bin dir is where pip installed it.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"--python_betterproto2_out={into}",
        f"--descriptor_set_out={into / DESCRIPTOR_SET}",
        "--include_imports",
        str(PROTO_DIR / PROTO_FILE),
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
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "_generated"
        fresh.mkdir()
        generate(fresh)
        if args.check:
            problems = differences(fresh, TARGET)
            if problems:
                print(f"{TARGET.relative_to(ROOT)} is stale against proto/{PROTO_FILE}:", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
                print("run: python scripts/generate_proto.py, then commit the result", file=sys.stderr)
                return 1
            print(f"{TARGET.relative_to(ROOT)} is up to date")
            return 0
        # Replace the whole folder so that files of removed protos do not linger.
        shutil.rmtree(TARGET, ignore_errors=True)
        shutil.copytree(fresh, TARGET)
    print(f"regenerated {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

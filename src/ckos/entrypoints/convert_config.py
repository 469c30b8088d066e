"""`cloudkeeper-os convert-config OLD.conf [--mapping voms.json] [--output FILE]`.

Converts the earlier cloudkeeper-os's INI configuration to ckos's TOML. Without --output the
TOML goes to stdout with the password replaced by a placeholder, and nothing is written; with
it, FILE is created with mode 0600 (never overwritten), and with --mapping the converted VO
mapping is created next to it. Anything that cannot be converted is exit status 2, with a
message naming the line and option, and no file left behind. The password is never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ckos.bootstrap import LegacyConfigError, convert_legacy_config

PROG = "cloudkeeper-os convert-config"
CONFIG_MODE = 0o600  # the file holds the OpenStack password
MAPPING_MODE = 0o644  # no secret in it; the umask applies
DEFAULT_MAPPING_NAME = "cloudkeeper-os.mapping.json"


class _Refused(Exception):
    """A file cannot be read or written; the message says which and why."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `convert-config` subcommand and its arguments."""
    text = "convert the earlier cloudkeeper-os's INI configuration (and VO mapping) to ckos's TOML"
    command = subparsers.add_parser("convert-config", help=text, description=text)
    command.add_argument(
        "old",
        type=Path,
        metavar="OLD.conf",
        help="the earlier configuration, e.g. /etc/cloudkeeper-os/cloudkeeper-os.conf",
    )
    command.add_argument(
        "--mapping",
        type=Path,
        metavar="voms.json",
        help="the earlier VO mapping: converted with each VO's domain and written next to --output",
    )
    command.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="create FILE (mode 0600, never overwritten) with the TOML, password included; "
        "default: stdout, password hidden, nothing written",
    )


def run(arguments: argparse.Namespace) -> int:
    """Convert; 0 when done, 2 when something cannot be converted, read or written."""
    old: Path = arguments.old
    mapping: Path | None = arguments.mapping
    output: Path | None = arguments.output
    mapping_output = None if output is None else output.with_name(f"{output.stem}.mapping.json")
    try:
        text = _read(old, "the earlier configuration")
        mapping_text = None if mapping is None else _read(mapping, "the earlier VO mapping")
        converted = convert_legacy_config(
            text,
            origin=str(old),
            mapping_text=mapping_text,
            mapping_origin=str(mapping),
            mapping_file=DEFAULT_MAPPING_NAME if mapping_output is None else mapping_output.name,
        )
        if output is None:
            sys.stdout.write(converted.preview)
        else:
            files = [(output, converted.toml, CONFIG_MODE)]
            if mapping_output is not None and converted.mapping_json is not None:
                files.insert(0, (mapping_output, converted.mapping_json, MAPPING_MODE))
            _create_all(files)
    except (LegacyConfigError, _Refused) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    for note in converted.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    if output is None:
        print(
            f"{PROG}: the password is not shown; --output FILE writes it into FILE (mode 0600)"
            + (", and the converted mapping next to it" if mapping is not None else ""),
            file=sys.stderr,
        )
        return 0
    if mapping_output is not None and converted.mapping_json is not None:
        print(f"{PROG}: wrote the converted VO mapping to {mapping_output}", file=sys.stderr)
    print(
        f"{PROG}: wrote {output} (mode 0600); for the daemon: chgrp cloudkeeper-os {output} && chmod 0640 "
        f"{output}, then cloudkeeper-os check-config --config {output}",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The subcommand alone, as `cloudkeeper-os` parses it (argv starts with "convert-config")."""
    parser = argparse.ArgumentParser(prog="cloudkeeper-os")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


def _read(path: Path, what: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _Refused(f"{path}: cannot read {what}: {error.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise _Refused(f"{path}, line {line}: {what} is not UTF-8 text") from None


def _create_all(files: list[tuple[Path, str, int]]) -> None:
    """Create every file or none: an existing file is never overwritten."""
    for path, _, _ in files:
        if path.exists() or path.is_symlink():
            raise _Refused(f"{path} exists: convert-config never overwrites a file (move it away first)")
    created: list[Path] = []
    try:
        for path, content, mode in files:
            _create(path, content, mode)
            created.append(path)
    except BaseException:
        for path in created:
            with contextlib.suppress(OSError):
                path.unlink()
        raise


def _create(path: Path, content: str, mode: int) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        raise _Refused(
            f"{path} exists: convert-config never overwrites a file (move it away first)"
        ) from None
    except OSError as error:
        raise _Refused(f"{path}: cannot create: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            if mode == CONFIG_MODE:
                os.fchmod(stream.fileno(), mode)  # exactly 0600, whatever the umask
            stream.write(content.encode("utf-8"))
    except OSError as error:
        with contextlib.suppress(OSError):
            path.unlink()
        raise _Refused(f"{path}: cannot write: {error.strerror}") from None


if __name__ == "__main__":
    sys.exit(main())

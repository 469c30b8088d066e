"""The `cloudkeeper-os` command: serve, check-config, --version."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from loguru import logger

from ckos import __version__
from ckos.bootstrap import build
from ckos.config import ConfigError, Settings, load
from ckos.entrypoints import logs
from ckos.entrypoints.grpc.server import serve

DEFAULT_CONFIG = Path("/etc/cloudkeeper-os/cloudkeeper-os.toml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloudkeeper-os", description="The OpenStack Glance backend of Cloudkeeper."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "run the gRPC daemon"),
        ("check-config", "validate the configuration and the VO mapping, then exit"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="TOML configuration file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        settings = load(arguments.config)
        if arguments.command == "check-config":
            return _check_config(settings, arguments.config)
        return _serve(settings)
    except ConfigError as error:
        print(f"cloudkeeper-os: {error}", file=sys.stderr)
        return 2


def _check_config(settings: Settings, path: Path) -> int:
    app = build(settings)
    mapping = app.directory.mapping()
    print(f"{path}: configuration is valid")
    for vo, project in sorted(mapping.projects_by_vo.items()):
        print(f"  VO {vo} -> project {project}")
    return 0


def _serve(settings: Settings) -> int:
    logs.configure(settings.logging)
    app = build(settings)
    logger.info("cloudkeeper-os {} starting on {}", __version__, settings.server.listen)
    asyncio.run(serve(app.backend, settings.server))
    logger.info("cloudkeeper-os stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

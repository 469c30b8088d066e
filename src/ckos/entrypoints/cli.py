"""The `cloudkeeper-os` command: serve, sync, check-config, check, migrate, convert-config, --version."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from loguru import logger

from ckos import __version__
from ckos.bootstrap import build, build_migration
from ckos.config import ConfigError, LoggingSettings, Settings, load
from ckos.domain.errors import CkosError
from ckos.entrypoints import convert_config, daemon, logs, status, sync
from ckos.entrypoints.grpc.listen import ListenFailed
from ckos.entrypoints.migrate import migrate

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
        ("check", "authenticate to every mapped project and list its images; report per project"),
        ("migrate", "adopt the images of the earlier cloudkeeper-os (dry run unless --apply)"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="TOML configuration file")
        if name == "migrate":
            command.add_argument("--apply", action="store_true", help="change Glance (default: only show)")
    sync.add_parser(commands, DEFAULT_CONFIG)
    convert_config.add_parser(commands)
    status.add_parser(commands, DEFAULT_CONFIG)
    return parser


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911  (one return per command)
    arguments = _parser().parse_args(argv)
    if arguments.command == "sync":
        return sync.run(arguments)
    if arguments.command == "convert-config":
        return convert_config.run(arguments)
    try:
        settings = load(arguments.config)
        if arguments.command == "check-config":
            return _check_config(settings, arguments.config)
        if arguments.command == "check":
            return _check(settings)
        if arguments.command == "status":
            return status.run(arguments)
        if arguments.command == "migrate":
            return migrate(
                build_migration(settings), build(settings).directory.mapping(), apply=arguments.apply
            )
        return _serve(settings)
    except ConfigError as error:
        print(f"cloudkeeper-os: {error}", file=sys.stderr)
        return 2
    except (CkosError, ListenFailed) as error:
        print(f"cloudkeeper-os: {error}", file=sys.stderr)
        return 1


def _check_config(settings: Settings, path: Path) -> int:
    app = build(settings)
    mapping = app.directory.mapping()
    print(f"{path}: configuration is valid")
    for vo, project in sorted(mapping.projects_by_vo.items()):
        print(f"  VO {vo} -> project {project}")
    return 0


def _check(settings: Settings) -> int:
    logs.configure(LoggingSettings(level="WARNING"))
    checks = build(settings).backend.check_projects()
    for check in checks:
        vos = ", ".join(check.vos)
        if check.ok:
            print(f"ok      project {check.project} (VO {vos}): {check.images} managed images")
        else:
            print(f"FAILED  project {check.project} (VO {vos}): {check.error}")
    return 0 if all(check.ok for check in checks) else 1


def _serve(settings: Settings) -> int:
    logs.configure(settings.logging)
    app = build(settings)
    logger.info("cloudkeeper-os {} starting on {}", __version__, settings.server.listen)
    daemon.run(app)
    logger.info("cloudkeeper-os stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`cloudkeeper-os status [--json]`: the images ckos manages, per mapped project.

A readable table on a terminal; JSON otherwise (or with --json), for scripts and monitoring.
Exit status 1 when a project could not be listed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ckos.bootstrap import build
from ckos.config import LoggingSettings, load
from ckos.domain.status import ProjectStatus
from ckos.entrypoints import logs


def add_parser(commands: Any, default_config: Path) -> None:
    text = "list the images ckos manages in each mapped project (a table on a terminal, else JSON)"
    command = commands.add_parser("status", help=text, description=text)
    command.add_argument("--config", type=Path, default=default_config, help="TOML configuration file")
    command.add_argument("--json", action="store_true", help="JSON even on a terminal")


def run(arguments: argparse.Namespace) -> int:
    """Raises ConfigError for an invalid configuration (the caller's exit status 2)."""
    settings = load(arguments.config)
    logs.configure(LoggingSettings(level="WARNING", format=settings.logging.format))
    projects = build(settings).backend.status()
    if arguments.json or not sys.stdout.isatty():
        print(json.dumps(as_json(projects), indent=2))
    else:
        Console().print(*tables(projects))
    return 1 if any(project.error for project in projects) else 0


def as_json(projects: Sequence[ProjectStatus]) -> dict[str, Any]:
    return {
        "projects": [
            {
                "project": str(project.project),
                "vos": list(project.vos),
                "error": project.error or None,
                "images": [
                    {
                        "identifier": image.identifier,
                        "title": image.title,
                        "version": image.version,
                        "image_id": image.image_id,
                        "state": image.state,
                        "size": image.size,
                        "age_seconds": image.age,
                        "source": image.source,
                    }
                    for image in project.images
                ],
            }
            for project in projects
        ]
    }


def tables(projects: Sequence[ProjectStatus]) -> list[Table | str]:
    shown: list[Table | str] = []
    for project in projects:
        heading = f"project {project.project} (VO {', '.join(project.vos)})"
        if project.error:
            shown.append(f"[bold red]{heading}: could not be listed:[/] {project.error}")
            continue
        table = Table(title=heading, title_justify="left")
        for column in ("title", "version", "image id", "state", "size", "age", "source"):
            table.add_column(column, no_wrap=column in ("image id", "state"))
        for image in project.images:
            table.add_row(
                image.title or image.identifier,
                image.version,
                image.image_id,
                image.state,
                _size(image.size),
                _age(image.age),
                image.source,
            )
        shown.append(table)
    return shown


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    if size < 1024:
        return f"{size} B"
    scaled = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        scaled /= 1024
        if scaled < 1024 or unit == "TiB":
            break
    return f"{scaled:.1f} {unit}"


def _age(seconds: int) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds // length} {unit}"
    return f"{seconds} s"

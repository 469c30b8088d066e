"""ckos configuration files derived from the devcloud's, for tests of the command line."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli


def derived_config(
    base: Path, directory: Path, *, mapping: Mapping[str, Any], changes: Mapping[str, Mapping[str, object]]
) -> Path:
    """A copy of the configuration `base`, with its own VO mapping and some options changed."""
    settings: dict[str, dict[str, Any]] = tomli.loads(base.read_text())
    mapping_file = directory / "mapping.json"
    mapping_file.write_text(json.dumps(mapping, indent=2))
    settings["mapping"] = {**settings.get("mapping", {}), "file": str(mapping_file)}
    for section, options in changes.items():
        settings[section] = {**settings.get(section, {}), **options}
    path = directory / "cloudkeeper-os.toml"
    path.write_text("".join(_section(name, options) for name, options in settings.items()))
    return path


def _section(name: str, options: Mapping[str, Any]) -> str:
    # JSON strings, numbers, booleans and lists of strings are valid TOML values.
    lines = [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    return f"[{name}]\n" + "\n".join(lines) + "\n\n"

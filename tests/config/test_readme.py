"""The README's option table lists every option of the schema, with its default."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ckos.config import documented_options

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `\[(?P<section>[a-z_.]+)\] (?P<key>[a-z_]+)` \| (?P<default>[^|]+) \|", re.MULTILINE)


def rendered(value: object) -> str:
    """A default as the table writes it: TOML, or "unset"."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return f"`{json.dumps([str(item) for item in value])}`"
    if isinstance(value, int | float):
        return f"`{value}`"
    return f"`{json.dumps(str(value))}`"


def table() -> dict[str, str]:
    """The rows of the table in the Configuration section."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return {f"{row['section']}.{row['key']}": row["default"].strip() for row in ROW.finditer(section)}


def test_every_option_is_in_the_readme_and_nothing_else() -> None:
    assert set(table()) == set(documented_options())


def test_the_readme_states_each_default() -> None:
    documented = table()
    assert {name: rendered(default) for name, default in documented_options().items()} == documented

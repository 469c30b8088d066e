"""The VO -> project mapping file, in both historical JSON shapes.

`{"<vo>": {"tenant": "<project>"}}` (keystone-voms voms.json) and
`{"<vo>": {"project": "<name or id>", "domain": "<project domain>"}}` (later mapping.json).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from ckos.domain.mapping import VOMapping
from ckos.domain.model import ProjectRef
from ckos.domain.ports import VODirectory

# Keystone ids are uuid4 hex strings (some identity backends keep the dashes).
_PROJECT_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KEYS = ("tenant", "project", "domain")
DEFAULT_DOMAIN = "default"


class MappingError(ValueError):
    """The mapping file is unreadable or not a valid mapping; the message names the file and VO."""


def load_mapping(path: Path) -> VOMapping:
    """Read and check the mapping file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise MappingError(f"{path}: cannot read the VO mapping: {reason}") from None
    return parse_mapping(text, origin=str(path))


def parse_mapping(text: str, *, origin: str) -> VOMapping:
    """The mapping a JSON document describes; origin names it in error messages."""
    try:
        raw = json.loads(text, object_pairs_hook=no_duplicates)
    except RepeatedKeys as error:
        raise MappingError(f"{origin}: {error} given more than once") from None
    except ValueError as error:
        raise MappingError(f"{origin}: not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{origin}: must be a JSON object of VO names")
    if not raw:
        raise MappingError(f"{origin}: maps no VO")
    projects: dict[str, ProjectRef] = {}
    for vo, entry in raw.items():
        if not vo.strip():
            raise MappingError(f"{origin}: a VO name is empty")
        projects[vo] = _project(entry, f"{origin}: VO {vo!r}")
    return VOMapping(projects)


def _project(entry: object, where: str) -> ProjectRef:
    if not isinstance(entry, dict):
        raise MappingError(f'{where}: must be an object like {{"project": "<name or id>"}}')
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(_KEYS)}")
    given = [key for key in ("tenant", "project") if key in entry]
    if len(given) != 1:
        raise MappingError(f'{where}: give exactly one of "project" or "tenant"')
    project = _text(entry[given[0]], f"{where}: {given[0]}")
    domain = _text(entry["domain"], f"{where}: domain") if "domain" in entry else None
    if _PROJECT_ID.fullmatch(project):
        return ProjectRef(id=project)  # an id names the project in every domain
    return ProjectRef(name=project, domain=domain or DEFAULT_DOMAIN)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{where} must be a non-empty string")
    return value.strip()


class RepeatedKeys(ValueError):
    """A JSON object names a key twice (json.loads would keep the last silently)."""


def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """json.loads' object_pairs_hook refusing repeated keys: a repeated VO is a mistake to report."""
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise RepeatedKeys(", ".join(repr(key) for key in repeated))
    return dict(pairs)


class JsonVODirectory(VODirectory):
    """The mapping loaded from a file, which reload() may replace while the daemon runs."""

    def __init__(self, path: Path) -> None:
        """Load the file now; raises MappingError when it is not a valid mapping."""
        self.path = path
        self._lock = threading.Lock()
        self._mapping = load_mapping(path)

    def mapping(self) -> VOMapping:
        with self._lock:
            return self._mapping

    def reload(self) -> VOMapping:
        """Load the file again. On MappingError the previous mapping stays in use."""
        mapping = load_mapping(self.path)
        with self._lock:
            self._mapping = mapping
        return mapping

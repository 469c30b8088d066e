"""The last list accepted from each HEPiX source, against replayed older lists (anti-rollback).

AppDB lists stay valid until 2499, so an old signed list can be served again to undo an update.
The list a run applied is remembered per source in `<work_dir>/hepix-state/<name>.json`
(dc:identifier, hv:version, dc:date:created), written atomically; a list created before it, or
created at the same time with a lower numeric hv:version, is refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from attrs import frozen

from ckos.adapters.sources.hepix.mapping import ListFacts
from ckos.domain.errors import SourceInvalid


@frozen
class Accepted:
    identifier: str
    version: str
    created: int  # Unix seconds


class ListHistory:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def last(self, source: str) -> Accepted | None:
        """The list last accepted from the source; SourceInvalid when its record is unreadable."""
        path = self._path(source)
        try:
            record = json.loads(path.read_text())
            return Accepted(
                identifier=str(record["dc:identifier"]),
                version=str(record["hv:version"]),
                created=int(record["created"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            # Failing closed: without the record, an older list could not be told from a newer one.
            raise SourceInvalid(
                f"the record of the last accepted list, {path}, cannot be read ({error}); "
                "remove it to accept the list served now"
            ) from None

    def check(self, source: str, facts: ListFacts) -> None:
        """Raise SourceInvalid when the list is older than the last one accepted from the source."""
        last = self.last(source)
        if last is None:
            return
        if facts.created < last.created or (
            facts.created == last.created and _lower(facts.version, last.version)
        ):
            raise SourceInvalid(
                f"the list (created {_iso(facts.created)}, hv:version {facts.version or '-'}) is older "
                f"than the last one accepted (created {_iso(last.created)}, hv:version "
                f"{last.version or '-'}): a replayed list? refused"
            )

    def record(self, source: str, facts: ListFacts) -> None:
        """Remember the list as the last accepted from the source (atomically: all or nothing)."""
        record = {
            "dc:identifier": facts.identifier,
            "hv:version": facts.version,
            "dc:date:created": _iso(facts.created),
            "created": facts.created,
        }
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._path(source)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=self._folder)
        try:
            with os.fdopen(descriptor, "w") as file:
                json.dump(record, file, indent=1)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        folder = os.open(self._folder, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a crash
        finally:
            os.close(folder)

    def _path(self, source: str) -> Path:
        return self._folder / f"{quote(source, safe='')}.json"


def _lower(version: str, last: str) -> bool:
    # AppDB's hv:version is a timestamp (20190701090000); other spellings cannot be ordered.
    return (
        version.isascii()
        and version.isdigit()
        and last.isascii()
        and last.isdigit()
        and int(version) < int(last)
    )


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

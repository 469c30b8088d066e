"""`cloudkeeper-os migrate`: show, then (with --apply) make, the adoptions."""

from __future__ import annotations

from ckos.bootstrap import GlanceMigration
from ckos.domain.mapping import VOMapping


def migrate(migration: GlanceMigration, mapping: VOMapping, *, apply: bool) -> int:
    """Print every adoption per mapped project; apply them when asked. Returns the exit status."""
    total = 0
    for project in mapping.projects():
        for adoption in migration.plan(project):
            total += 1
            added = ", ".join(sorted(adoption.added)) or "nothing"
            print(f"adopt image {adoption.image_id} ({adoption.name}) in project {project}; add {added}")
            for note in adoption.notes:
                print(f"  note: {note}")
            if apply:
                migration.apply(adoption)
    verb = "adopted" if apply else "would adopt (run again with --apply)"
    print(f"{verb}: {total} image(s)")
    return 0

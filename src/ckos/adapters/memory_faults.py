"""Failures a test can plan for MemoryCatalog, and the log of the calls it received."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from typing import Literal

from attrs import frozen

from ckos.domain.model import ProjectRef

Operation = Literal[
    "list_images",
    "create_image",
    "upload",
    "get_image",
    "mark_active",
    "update_metadata",
    "retire",
    "delete_image",
]


@frozen
class CatalogCall:
    """One call the catalog received (calls that then failed included)."""

    operation: Operation
    project: ProjectRef
    image_id: str | None


class CatalogFaults:
    """Planned failures: the next call of an operation, or every call for a project."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._planned: defaultdict[Operation, deque[Exception]] = defaultdict(deque)
        self._failing: dict[ProjectRef, Exception] = {}
        self._calls: list[CatalogCall] = []

    def fail_next(self, operation: Operation, error: Exception) -> None:
        """Make the next call of this operation raise the error (queued: plan several in a row)."""
        with self._lock:
            self._planned[operation].append(error)

    def fail_project(self, project: ProjectRef, error: Exception | None) -> None:
        """Make every call for the project raise the error, until called again with None."""
        with self._lock:
            if error is None:
                self._failing.pop(project, None)
            else:
                self._failing[project] = error

    def calls(self) -> list[CatalogCall]:
        """Every call received so far, in order."""
        with self._lock:
            return list(self._calls)

    def enter(self, operation: Operation, project: ProjectRef, image_id: str | None) -> None:
        """Log the call, then raise the failure planned for it, if any."""
        with self._lock:
            self._calls.append(CatalogCall(operation, project, image_id))
            planned = self._planned[operation]
            if planned:
                raise planned.popleft()
            if project in self._failing:
                raise self._failing[project]

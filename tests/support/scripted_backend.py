"""A stand-in Backend for entrypoint tests: records each call, raises what it is told to."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from attrs import define, field

from ckos.domain.model import Appliance, ImageSource


@define
class ScriptedBackend:
    """Has every method of ckos.domain.backend.Backend; `fail[method]` is raised by that method."""

    lists: list[str] = field(factory=list)
    listed: list[Appliance] = field(factory=list)
    fail: dict[str, BaseException] = field(factory=dict)
    calls: list[tuple[str, tuple[object, ...]]] = field(factory=list)
    # When set, add_appliance waits for it: lets a test hold a call in progress.
    hold: threading.Event | None = None

    def _called(self, method: str, *arguments: object) -> None:
        self.calls.append((method, arguments))
        error = self.fail.get(method)
        if error is not None:
            raise error

    def pre_action(self) -> None:
        self._called("pre_action")

    def post_action(self) -> None:
        self._called("post_action")

    def add_appliance(self, appliance: Appliance, source: ImageSource | None) -> str:
        self._called("add_appliance", appliance, source)
        if self.hold is not None:
            self.hold.wait(timeout=10)
        return "image-1"

    def update_appliance(self, appliance: Appliance, source: ImageSource | None) -> str:
        self._called("update_appliance", appliance, source)
        return "image-1"

    def update_appliance_metadata(self, appliance: Appliance) -> str:
        self._called("update_appliance_metadata", appliance)
        return "image-1"

    def remove_appliance(self, appliance: Appliance) -> list[str]:
        self._called("remove_appliance", appliance)
        return []

    def remove_image_list(self, image_list_identifier: str) -> list[str]:
        self._called("remove_image_list", image_list_identifier)
        return []

    def image_lists(self) -> Sequence[str]:
        self._called("image_lists")
        return self.lists

    def appliances(self, image_list_identifier: str) -> Sequence[Appliance]:
        self._called("appliances", image_list_identifier)
        return [
            appliance for appliance in self.listed if appliance.image_list_identifier == image_list_identifier
        ]

    def remove_expired_appliances(self) -> None:
        self._called("remove_expired_appliances")

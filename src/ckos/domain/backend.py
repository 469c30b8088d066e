"""The Cloudkeeper backend as one object: one method per RPC, each a use case."""

from __future__ import annotations

from attrs import evolve, frozen

from ckos.domain import collect, health, listing, metadata, register, retire, status
from ckos.domain.context import Context
from ckos.domain.model import Appliance, ImageSource
from ckos.domain.outcome import Outcome


@frozen
class Backend:
    ctx: Context

    def pre_action(self) -> None:
        """Nothing to prepare: every call reads the catalog afresh."""

    def post_action(self) -> Outcome:
        return collect.collect(self.ctx)

    def add_appliance(self, appliance: Appliance, source: ImageSource | None) -> Outcome:
        return register.register(self.ctx, appliance, source)

    def update_appliance(self, appliance: Appliance, source: ImageSource | None) -> Outcome:
        return register.register(self.ctx, appliance, source)

    def update_appliance_metadata(self, appliance: Appliance) -> Outcome:
        return metadata.update_metadata(self.ctx, appliance)

    def remove_appliance(self, appliance: Appliance) -> Outcome:
        return retire.remove_appliance(self.ctx, appliance)

    def remove_image_list(self, image_list_identifier: str) -> Outcome:
        return retire.remove_image_list(self.ctx, image_list_identifier)

    def image_lists(self) -> list[str]:
        return listing.image_lists(self.ctx)

    def appliances(self, image_list_identifier: str) -> list[Appliance]:
        return listing.appliances(self.ctx, image_list_identifier)

    def remove_expired_appliances(self) -> Outcome:
        """Retire the expired appliances, then collect what earlier runs retired."""
        retired = retire.remove_expired(self.ctx)
        return evolve(collect.collect(self.ctx), retired=retired)

    def check_projects(self) -> list[health.ProjectCheck]:
        """Whether each mapped project can be listed (not an RPC: for operators and health)."""
        return health.check_projects(self.ctx)

    def status(self) -> list[status.ProjectStatus]:
        """What ckos manages in each mapped project (not an RPC: `cloudkeeper-os status`)."""
        return status.status(self.ctx)

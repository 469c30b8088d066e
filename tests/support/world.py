"""A small world for use-case tests: the real Backend over the in-memory catalog and fakes."""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from attrs import define

from ckos.adapters.glance.formats import GLANCE_DISK_FORMATS
from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.domain.backend import Backend
from ckos.domain.context import Context, LifecyclePolicy
from ckos.domain.model import Appliance, ImageFacts, ImageFormat, ImageSource, ProjectRef, TransferMode
from support.fakes import ManualClock, MemoryImageData, StaticDirectory

VO = "vo.example.eu"
OTHER_VO = "fedcloud.egi.eu"
PROJECT = ProjectRef(name="example", domain="default")
OTHER_PROJECT = ProjectRef(name="fedcloud", domain="default")
LIST = "a3d1c9e2-5b7f-5e0a-9c4d-2f1e8b6a7d30"


@define
class World:
    backend: Backend
    catalog: MemoryCatalog
    files: MemoryImageData
    clock: ManualClock

    def offer(
        self,
        identifier: str,
        content: bytes,
        *,
        vo: str = VO,
        image_list: str = LIST,
        digest: str = "d1",
        image_digest: str = "i1",
        expiration_date: int = 0,
        title: str = "Image for EGI Ubuntu 22.04 [Ubuntu/22.04/KVM]",
    ) -> tuple[Appliance, ImageSource]:
        """An appliance with its offered file, as the core sends it to AddAppliance."""
        location = f"/spool/{identifier}-{hashlib.sha256(content).hexdigest()[:8]}.qcow2"
        self.files.files[location] = content
        appliance = Appliance(
            identifier=identifier,
            image_list_identifier=image_list,
            vo=vo,
            mpuri=f"https://appdb.egi.eu/store/vo/image/{identifier}:1/",
            title=title,
            description="A test appliance",
            ram=1073741824,
            core=2,
            operating_system="Linux Ubuntu 22.04",
            architecture="x86_64",
            expiration_date=expiration_date,
            digest=digest,
            image=ImageFacts(
                uri=f"https://images.example.org/{identifier}.qcow2",
                checksum=hashlib.sha512(content).hexdigest(),
                size=len(content),
                format=ImageFormat.QCOW2,
                digest=image_digest,
            ),
        )
        return appliance, ImageSource(mode=TransferMode.LOCAL, location=location)

    def live(self, identifier: str) -> list[str]:
        return [
            record.id
            for record in self.catalog.records()
            if record.properties.get("APPLIANCE_ID") == identifier
            and record.properties.get("APPLIANCE_STATUS") == "ACTIVE"
        ]


def make_world(*, disk_formats: Collection[str] = GLANCE_DISK_FORMATS) -> World:
    clock = ManualClock()
    catalog = MemoryCatalog(clock=clock.now, disk_formats=disk_formats)
    files = MemoryImageData()
    directory = StaticDirectory.of(vo_example_eu="example", fedcloud_egi_eu="fedcloud")
    context = Context(
        catalog=catalog,
        image_data=files,
        directory=directory,
        clock=clock,
        policy=LifecyclePolicy(retire_grace=3600, stale_upload_after=7200),
    )
    return World(backend=Backend(context), catalog=catalog, files=files, clock=clock)

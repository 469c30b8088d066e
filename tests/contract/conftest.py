"""The catalogs the contract suite runs against, and the few raw views of Glance it needs.

"memory" is the in-memory fake; "glance" is GlanceCatalog on the devcloud's real Glance, with
`raw_image` and `add_foreign_image` done by the admin through glanceclient. Both catalogs are
configured the same way: private visibility, and Glance's default formats minus `vdi` (the
devcloud's `[image_format] disk_formats` leaves it out), so that an unsupported format can be
tried. On Glance every test gets a tag of its own, and its images are deleted afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from attrs import frozen

from ckos.adapters.glance.formats import GLANCE_DISK_FORMATS
from ckos.adapters.glance.record import ImageRecord
from ckos.adapters.glance.sessions import ProjectClients
from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.domain.model import ProjectRef
from ckos.domain.ports import ImageCatalog
from support.devcloud import DevCloud
from support.glance_admin import GlanceAdmin, ckos_clients
from support.glance_testbed import glance_testbed

TAG = "ckos-contract"


@frozen
class CatalogUnderTest:
    catalog: ImageCatalog
    tag: str
    raw_image: Callable[[ProjectRef, str], ImageRecord]  # the record as Glance shows it
    # (project, properties, tags=frozenset()) -> id: an image created by someone else
    add_foreign_image: Callable[..., str]


def _memory(request: pytest.FixtureRequest) -> Iterator[CatalogUnderTest]:
    catalog = MemoryCatalog(tag=TAG, visibility="private", disk_formats=GLANCE_DISK_FORMATS - {"vdi"})
    yield CatalogUnderTest(
        catalog=catalog,
        tag=TAG,
        raw_image=lambda project, image_id: catalog.record(image_id),
        add_foreign_image=catalog.add_foreign_image,
    )


def _glance(request: pytest.FixtureRequest) -> Iterator[CatalogUnderTest]:
    cloud: DevCloud = request.getfixturevalue("devcloud")
    clients: ProjectClients = request.getfixturevalue("contract_clients")
    with glance_testbed(cloud, request.getfixturevalue("glance_admin"), TAG) as bed:
        yield CatalogUnderTest(
            catalog=bed.catalog(clients),
            tag=bed.tag,
            raw_image=lambda project, image_id: bed.admin.record(image_id),
            add_foreign_image=lambda project, properties, tags=frozenset(): bed.foreign(
                project, properties, tags=tuple(tags)
            ),
        )


@pytest.fixture(scope="session")
def contract_clients(devcloud: DevCloud) -> ProjectClients:
    """One set of ckos sessions for every contract test, as the daemon keeps one for its life."""
    return ckos_clients(devcloud)


@pytest.fixture(scope="session")
def glance_admin(devcloud: DevCloud) -> GlanceAdmin:
    return GlanceAdmin(devcloud)


@pytest.fixture(params=["memory", pytest.param("glance", marks=pytest.mark.openstack)])
def under_test(request: pytest.FixtureRequest) -> Iterator[CatalogUnderTest]:
    builders = {"memory": _memory, "glance": _glance}
    yield from builders[request.param](request)


@pytest.fixture
def catalog(under_test: CatalogUnderTest) -> ImageCatalog:
    return under_test.catalog


@pytest.fixture
def raw_image(under_test: CatalogUnderTest) -> Callable[[ProjectRef, str], ImageRecord]:
    return under_test.raw_image


@pytest.fixture
def add_foreign_image(under_test: CatalogUnderTest) -> Callable[..., str]:
    return under_test.add_foreign_image


@pytest.fixture
def tag(under_test: CatalogUnderTest) -> str:
    return under_test.tag


@pytest.fixture
def project_a() -> ProjectRef:
    return ProjectRef(name="fedcloud", domain="default")


@pytest.fixture
def project_b() -> ProjectRef:
    return ProjectRef(name="other", domain="default")

"""The catalogs the contract suite runs against, and the few raw views of Glance it needs.

Today only the in-memory fake; the real Glance adapter joins as a second param, with
`raw_image` and `add_foreign_image` done through glanceclient. Both catalogs are configured
the same way: the tag below, private visibility, and Glance's default formats minus `vdi`
(for a real Glance: `[image_format] disk_formats` without vdi), so that an unsupported
format can be tried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest
from attrs import frozen

from ckos.adapters.glance.formats import GLANCE_DISK_FORMATS
from ckos.adapters.glance.record import ImageRecord
from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.domain.model import ProjectRef
from ckos.domain.ports import ImageCatalog

TAG = "ckos-contract"


@frozen
class CatalogUnderTest:
    catalog: ImageCatalog
    raw_image: Callable[[ProjectRef, str], ImageRecord]  # the record as Glance shows it
    add_foreign_image: Callable[[ProjectRef, Mapping[str, str]], str]  # created by someone else


def _memory() -> CatalogUnderTest:
    catalog = MemoryCatalog(tag=TAG, visibility="private", disk_formats=GLANCE_DISK_FORMATS - {"vdi"})
    return CatalogUnderTest(
        catalog=catalog,
        raw_image=lambda project, image_id: catalog.record(image_id),
        add_foreign_image=catalog.add_foreign_image,
    )


@pytest.fixture(params=["memory"])
def under_test(request: pytest.FixtureRequest) -> CatalogUnderTest:
    builders = {"memory": _memory}
    return builders[request.param]()


@pytest.fixture
def catalog(under_test: CatalogUnderTest) -> ImageCatalog:
    return under_test.catalog


@pytest.fixture
def raw_image(under_test: CatalogUnderTest) -> Callable[[ProjectRef, str], ImageRecord]:
    return under_test.raw_image


@pytest.fixture
def add_foreign_image(under_test: CatalogUnderTest) -> Callable[[ProjectRef, Mapping[str, str]], str]:
    return under_test.add_foreign_image


@pytest.fixture
def tag() -> str:
    return TAG


@pytest.fixture
def project_a() -> ProjectRef:
    return ProjectRef(name="fedcloud", domain="default")


@pytest.fixture
def project_b() -> ProjectRef:
    return ProjectRef(name="other", domain="default")

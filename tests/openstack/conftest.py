"""Fixtures of the Glance adapter's tests: the admin's view, and a testbed per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.devcloud import DevCloud
from support.glance_admin import GlanceAdmin
from support.glance_testbed import GlanceTestbed, glance_testbed


@pytest.fixture(scope="session")
def glance_admin(devcloud: DevCloud) -> GlanceAdmin:
    return GlanceAdmin(devcloud)


@pytest.fixture
def testbed(devcloud: DevCloud, glance_admin: GlanceAdmin) -> Iterator[GlanceTestbed]:
    with glance_testbed(devcloud, glance_admin, "ckos-adapter") as bed:
        yield bed

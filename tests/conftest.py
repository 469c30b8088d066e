"""Fixtures for every test folder: one real Keystone + Glance per test session, on demand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.devcloud import TEST_VOS, DevCloud, running_devcloud

# The fixture's setup counts toward the first test's timeout, and a first run on a fresh
# machine installs the OpenStack venv (about a minute, more on a slow network).
TIMEOUT = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the real cloud carry the `openstack` mark (`-m "not openstack"` skips them).

    A test that gets the devcloud only at run time (a parametrized fixture) is marked by hand.
    """
    for item in items:
        if "devcloud" in getattr(item, "fixturenames", ()) or item.get_closest_marker("openstack"):
            item.add_marker(pytest.mark.openstack)
            item.add_marker(pytest.mark.timeout(TIMEOUT))


@pytest.fixture(scope="session")
def devcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCloud]:
    """A real Keystone and Glance on 127.0.0.1, with one project per VO in TEST_VOS."""
    with running_devcloud(tmp_path_factory.mktemp("devcloud"), vos=TEST_VOS) as cloud:
        yield cloud

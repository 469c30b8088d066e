"""Tests against a real Keystone and Glance, started once per test session by scripts/devcloud."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.devcloud import DevCloud, running_devcloud

HERE = Path(__file__).resolve().parent
# The session fixture's setup counts toward the first test's timeout, and a first run on a
# fresh machine installs the OpenStack venv (about a minute, more on a slow network).
TIMEOUT = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.openstack)
            item.add_marker(pytest.mark.timeout(TIMEOUT))


@pytest.fixture(scope="session")
def devcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCloud]:
    with running_devcloud(tmp_path_factory.mktemp("devcloud")) as cloud:
        yield cloud

"""Fixtures for the use cases: the real Backend over the in-memory catalog and fakes."""

import pytest

from support.world import World, make_world


@pytest.fixture
def world() -> World:
    return make_world()

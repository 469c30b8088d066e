"""Transfers into the real Glance of the session's devcloud, through the gRPC wire."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.devcloud import DevCloud
from support.image_server import ImageServer
from support.transfer_site import TransferSite, transfer_site


@pytest.fixture
def site(devcloud: DevCloud, tmp_path: Path) -> Iterator[TransferSite]:
    with transfer_site(devcloud, tmp_path) as running:
        yield running


@pytest.fixture
def server() -> Iterator[ImageServer]:
    """The core's per-call web server, with fresh random credentials as the core makes them."""
    with ImageServer(str(uuid.uuid4()), str(uuid.uuid4())) as running:
        yield running

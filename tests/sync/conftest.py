"""A real OCI registry (Debian's docker-registry) and the devcloud's real Glance, per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import glanceclient
import pytest

from support.catalog_state import GlanceState
from support.devcloud import DevCloud
from support.registry import running_registry
from support.sync_site import VO, SyncSite


@pytest.fixture
def site(devcloud: DevCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[SyncSite]:
    tag = f"ckos-sync-{uuid.uuid4().hex[:12]}"
    admin = glanceclient.Client("2", session=devcloud.admin_session(), region_name=devcloud.region)
    state = GlanceState(admin.images, owners=[devcloud.project_id(VO)], tag=tag)
    with running_registry(tmp_path / "registry") as registry:
        try:
            yield SyncSite(devcloud, registry, tmp_path, tag, capsys, state)
        finally:
            state.delete_tagged()

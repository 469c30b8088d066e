"""Glance refusing an upload half way (413 over its size cap or quota, 5xx when failing), shown to
ckos by a proxy in front of the session's real Glance: the call fails with a clear status, the new
image is deleted (through the same Glance), the old one stays live, nothing is left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from support.devcloud import DevCloud
from support.glance_proxy import GlanceProxy
from support.offers import MIB, UPDATED, random_bytes
from support.transfer_site import TransferSite, check_still_live, established, transfer_site


@pytest.fixture
def proxy(devcloud: DevCloud) -> Iterator[GlanceProxy]:
    with GlanceProxy(devcloud.glance_url) as running:
        yield running


@pytest.fixture
def proxied(devcloud: DevCloud, tmp_path: Path, proxy: GlanceProxy) -> Iterator[TransferSite]:
    with transfer_site(devcloud, tmp_path, glance_via=proxy.url) as site:
        yield site


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (413, grpc.StatusCode.FAILED_PRECONDITION),
        (500, grpc.StatusCode.UNAVAILABLE),
        (503, grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_glance_refusing_the_upload_half_way_leaves_the_old_image_live_and_nothing_behind(
    proxied: TransferSite, proxy: GlanceProxy, status: int, code: grpc.StatusCode
) -> None:
    site = proxied
    image_id, first = established(site)
    proxy.refuse_uploads = status
    offer = site.local("app-1", random_bytes(3 * MIB), **UPDATED)
    before = site.baseline()
    outcome = site.offer("UpdateAppliance", offer)
    assert len(proxy.refused) == 1
    assert outcome.code is code, outcome.details
    assert f"HTTP {status}" in outcome.details
    assert site.creations == before.creations + 1
    check_still_live(site, "app-1", image_id, first)
    site.check_clean(before)

    proxy.refuse_uploads = None  # the next sync converges
    outcome = site.offer("UpdateAppliance", site.local("app-1", offer.data, **UPDATED))
    assert outcome.code is grpc.StatusCode.OK, outcome.details
    assert site.live()["app-1"]["id"] != image_id

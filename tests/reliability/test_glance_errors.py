"""The session's real Glance answering 409 (conflict), 5xx or 413 to one kind of request, shown to
ckos by a proxy: the call fails with a clear status (never UNKNOWN), the old image stays live, no
image or file is left behind, and once Glance answers again the next call converges exactly.

Uploads refused half way with 413, 500 and 503 are tests/transfer/test_glance_refusals.py; here
the other requests of an update (listing, upload with 409, marking active) and of a collection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from reliability.outages import check_exactly
from support.catalog_state import record_of
from support.devcloud import DevCloud
from support.glance_proxy import IMAGE, LISTING, UPLOAD, GlanceProxy
from support.independent_client import client
from support.offers import LIST_ID, MIB, UPDATED, random_bytes
from support.transfer_site import TransferSite, check_still_live, established, transfer_site

pytestmark = pytest.mark.openstack
UNAVAILABLE, FAILED_PRECONDITION = grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION


@pytest.fixture
def proxy(devcloud: DevCloud) -> Iterator[GlanceProxy]:
    with GlanceProxy(devcloud.glance_url) as running:
        yield running


@pytest.fixture
def proxied(devcloud: DevCloud, tmp_path: Path, proxy: GlanceProxy) -> Iterator[TransferSite]:
    with transfer_site(devcloud, tmp_path, glance_via=proxy.url) as site:
        yield site


def exactly_one_live(site: TransferSite, data: bytes) -> None:
    records = [record_of(image) for image in site.images().values()]
    check_exactly(records, site.tag, {"app-1"})
    assert site.data(site.live()["app-1"]["id"]) == data


@pytest.mark.parametrize(
    ("method", "path", "status", "codes"),
    [
        pytest.param("PUT", UPLOAD, 409, {FAILED_PRECONDITION, UNAVAILABLE}, id="upload-409"),
        pytest.param("PATCH", IMAGE, 409, {FAILED_PRECONDITION, UNAVAILABLE}, id="mark-active-409"),
        pytest.param("PATCH", IMAGE, 500, {UNAVAILABLE}, id="mark-active-500"),
        pytest.param("GET", LISTING, 503, {UNAVAILABLE}, id="listing-503"),
        pytest.param("POST", re.compile(r"^/v2/images$"), 500, {UNAVAILABLE}, id="create-500"),
    ],
)
def test_an_update_meeting_a_glance_error_keeps_the_old_image_and_the_next_call_converges(
    proxied: TransferSite,
    proxy: GlanceProxy,
    method: str,
    path: re.Pattern[str],
    status: int,
    codes: set[grpc.StatusCode],
) -> None:
    site = proxied
    image_id, first = established(site)
    offer = site.local("app-1", random_bytes(MIB), **UPDATED)
    before = site.baseline()
    proxy.refuse(method, path, status)

    outcome = site.offer("UpdateAppliance", offer)

    assert proxy.refused, "the request was never made"
    assert outcome.code in codes, (outcome.code, outcome.details)
    assert str(status) in outcome.details
    proxy.clear()
    check_still_live(site, "app-1", image_id, first)
    site.check_clean(before)  # the new image (if one was made) deleted, no file left
    again = site.offer("UpdateAppliance", site.local("app-1", offer.data, **UPDATED))
    assert again.code is grpc.StatusCode.OK, again.details
    assert site.call("RemoveExpiredAppliances", client().empty()).code is grpc.StatusCode.OK
    exactly_one_live(site, offer.data)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (409, grpc.StatusCode.OK),  # Glance's answer for an image in use: kept for a later run
        (503, UNAVAILABLE),
    ],
)
def test_a_collection_meeting_a_glance_error_keeps_the_image_and_the_next_one_collects(
    proxied: TransferSite, proxy: GlanceProxy, status: int, code: grpc.StatusCode
) -> None:
    site = proxied
    established(site)
    data = random_bytes(64 * 1024)
    assert site.offer("UpdateAppliance", site.local("app-1", data, **UPDATED)).code is grpc.StatusCode.OK
    assert len(site.images()) == 2  # the new image live, the old one retired (collected from now on)
    proxy.refuse("DELETE", IMAGE, status)

    outcome = site.call("PostAction", client().empty())

    assert proxy.refused
    assert outcome.code is code, outcome.details
    assert code is grpc.StatusCode.OK or str(status) in outcome.details
    assert len(site.images()) == 2
    proxy.clear()
    assert site.call("PostAction", client().empty()).code is grpc.StatusCode.OK
    exactly_one_live(site, data)


def test_a_listing_meeting_a_glance_error_sends_no_item(proxied: TransferSite, proxy: GlanceProxy) -> None:
    site = proxied
    established(site)
    proxy.refuse("GET", LISTING, 502)
    for rpc, request in (
        ("ImageLists", client().empty()),
        ("Appliances", client().pb2.ImageListIdentifier(image_list_identifier=LIST_ID)),
    ):
        received: list[object] = []
        with grpc.insecure_channel(site.target) as channel:
            stream = getattr(client().stub(channel), rpc)
            with pytest.raises(grpc.RpcError) as failed:
                received.extend(stream(request))
        error: Any = failed.value
        assert error.code() is UNAVAILABLE, error.details()
        assert received == []
    proxy.clear()
    assert [appliance.identifier for appliance in site.appliances()] == ["app-1"]

"""Glance or Keystone killed while ckos works, on a devcloud of this module's own (the session's
shared one must keep running): the call fails with a clear status (UNAVAILABLE), nothing is half
done, and once the service is back the next core run converges on the list exactly.

Glance killed during an upload is tests/transfer/test_glance_outage.py; here: during a listing
(between its two requests: visible images read, hidden ones not yet), during a collection (one
image deleted, the next not), and Keystone killed when a token must be renewed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from glanceclient.v2 import images as glance_images
from keystoneauth1.access import access

from reliability.outages import check_exactly, kill, restart
from support.devcloud import DevCloud, running_devcloud
from support.independent_client import client
from support.process_state import open_files
from support.site import GRACE, LIST_ID, UBUNTU, VO, Site, make_glance_site

pytestmark = pytest.mark.openstack

LIVE_V2 = {UBUNTU, "7c3e5a1b-9d2f-5e4a-b6c8-0a1d3f5e7b92", "3e5f7a9b-1c2d-5e3f-a4b5-6c7d8e9f0a1b"}


@pytest.fixture(scope="module")
def own_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[DevCloud]]:
    """A devcloud for this module; a one-item list, since a restart changes its pids."""
    with running_devcloud(tmp_path_factory.mktemp("outage-cloud"), vos={VO: "example"}) as cloud:
        yield [cloud]


@pytest.fixture
def site(own_cloud: list[DevCloud], tmp_path: Path) -> Iterator[Site]:
    """A site synced through v2 (live images, and two retired ones), whatever the test kills is
    brought back afterwards."""
    try:
        for made in make_glance_site(tmp_path, own_cloud[0]):
            assert made.sync("v1").exit_code == 0
            assert made.sync("v2").exit_code == 0
            yield made
    finally:
        own_cloud[0] = restart(own_cloud[0])


def converges(site: Site) -> None:
    """The next core run (past the grace, so collection is due) succeeds and leaves exactly the list."""
    site.clock.value += GRACE + 1
    run = site.sync("v2")
    assert (run.exit_code, run.crash) == (0, ""), run.calls
    assert {call.code for call in run.calls} == {grpc.StatusCode.OK}
    check_exactly(site.records(), site.tag, LIVE_V2)
    assert all(site.tag in record.tags for record in site.records()), "an untagged image was left"
    assert [rpc for rpc, _ in site.sync("v2").sequence()] == [
        "PreAction",
        "RemoveExpiredAppliances",
        "ImageLists",
        "Appliances",
        "PostAction",
    ]  # steady state


def test_glance_killed_in_the_middle_of_a_listing_fails_the_call_and_the_next_run_converges(
    site: Site, own_cloud: list[DevCloud], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = site.snapshot()
    original = glance_images.Controller.list
    killed: list[bool] = []

    def dying_between_pages(self: Any, **kwargs: Any) -> Iterator[Any]:
        if kwargs.get("filters", {}).get("os_hidden") is True and not killed:
            kill(own_cloud[0], "glance")  # visible images read; Glance dies before the hidden ones
            killed.append(True)
        yield from original(self, **kwargs)

    monkeypatch.setattr(glance_images.Controller, "list", dying_between_pages)
    request = client().pb2.ImageListIdentifier(image_list_identifier=LIST_ID)
    code, received = site.call("Appliances", request)
    monkeypatch.undo()

    assert killed == [True]
    assert code is grpc.StatusCode.UNAVAILABLE
    assert received == []  # never a partial stream: the core would take it as the whole list
    own_cloud[0] = restart(own_cloud[0])
    assert site.snapshot() == before
    converges(site)


def test_glance_killed_in_the_middle_of_a_collection_fails_the_call_and_the_next_run_collects(
    site: Site, own_cloud: list[DevCloud]
) -> None:
    retired = {record.id for images in site.ours("EOL").values() for record in images}
    assert len(retired) == 2
    catalog: Any = site.app.catalog
    delete: Callable[..., None] = catalog.delete_image
    deletions: list[str] = []

    def dying_after_the_first(project: Any, image_id: str) -> None:
        if deletions:
            kill(own_cloud[0], "glance")
        deletions.append(image_id)
        delete(project, image_id)

    catalog.delete_image = dying_after_the_first
    site.clock.value += GRACE + 1
    code, _ = site.call("PostAction", client().empty())
    catalog.delete_image = delete

    assert len(deletions) == 2
    assert code is grpc.StatusCode.UNAVAILABLE
    own_cloud[0] = restart(own_cloud[0])
    remaining = {record.id for images in site.ours("EOL").values() for record in images}
    assert remaining == retired - {deletions[0]}  # the first deleted, the second still retired
    assert set(site.live()) == LIVE_V2
    converges(site)


def test_keystone_down_when_a_token_must_be_renewed_fails_the_call_then_recovers(
    site: Site, own_cloud: list[DevCloud], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every token ckos holds is due for renewal (as an hour later), and Keystone is dead: calls
    fail UNAVAILABLE and change nothing; once Keystone is back the same process renews and works."""
    before = site.snapshot()
    files = open_files()
    kill(own_cloud[0], "keystone")
    expiring = {"now": True}
    will_expire_soon = access.AccessInfo.will_expire_soon

    def renewal_due(self: Any, *args: Any) -> bool:
        return expiring["now"] or bool(will_expire_soon(self, *args))

    monkeypatch.setattr(access.AccessInfo, "will_expire_soon", renewal_due)
    for rpc in ("RemoveExpiredAppliances", "ImageLists", "PostAction"):
        code, received = site.call(rpc, client().empty())
        assert (code, received) == (grpc.StatusCode.UNAVAILABLE, []), rpc
    run = site.sync("v2")
    assert run.exit_code == 1  # ImageLists failed: the core stops before changing anything
    expiring["now"] = False
    own_cloud[0] = restart(own_cloud[0])  # Glance too (devcloud restarts what is down as a pair)
    expiring["now"] = True  # the renewal happens now, against the live Keystone
    assert site.call("ImageLists", client().empty())[0] is grpc.StatusCode.OK
    monkeypatch.undo()
    assert site.snapshot() == before
    assert open_files() <= files
    converges(site)

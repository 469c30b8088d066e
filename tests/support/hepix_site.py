"""`cloudkeeper-os sync` from a signed HEPiX list on loopback into the devcloud's real Glance.

    site = HepixSite(...)                       # see tests/sync/test_sync_hepix.py
    url = site.offer("ubuntu-1.img", data)      # an image on the loopback web server
    site.publish(image_list([...]))             # the list, signed by the endorser
    result = site.sync()                        # exit status, the JSON summary, what was printed
    site.live()                                 # {identifier: Glance record} of our live images

The command runs in this process, from a configuration derived from the devcloud's with its own
Glance tag; the images carrying the tag are deleted by whoever made the site.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import glanceclient
import pytest
from attrs import define, field

from ckos.adapters.glance.record import ImageRecord
from ckos.entrypoints import cli
from support import pki
from support.catalog_state import CatalogState, GlanceState, one_live_each, ours
from support.ckos_config import derived_config
from support.devcloud import DevCloud
from support.hepix_lists import ENDORSER, VO, ListPki
from support.sync_site import SyncResult
from support.web_server import WebServer

SOURCE = "appdb"
LIST_PATH = f"/store/vo/{VO}/image.list"


@define
class HepixSite:
    cloud: DevCloud
    folder: Path
    tag: str
    capsys: pytest.CaptureFixture[str]
    state: CatalogState
    lists: ListPki
    web: WebServer  # the list and the images
    hepix: dict[str, Any] = field(factory=dict)  # the [[sync.hepix]] table's changes
    sync_options: dict[str, Any] = field(factory=dict)  # [sync]
    config_changes: dict[str, dict[str, Any]] = field(factory=dict)  # other sections

    @property
    def work_dir(self) -> Path:
        return self.folder / "work"

    @property
    def history(self) -> Path:
        """The record of the last list applied."""
        return self.work_dir / "hepix-state" / f"{SOURCE}.json"

    def offer(self, name: str, data: bytes) -> str:
        """An image on the web server (no credentials needed); its URL."""
        path = f"/images/{name}"
        self.web.files[path] = data
        return self.web.url(path)

    def publish(self, content: bytes, *signers: pki.Identity) -> None:
        """The list, signed (by the endorser unless told otherwise), as the source's URL serves it."""
        self.web.files[LIST_PATH] = self.lists.sign(content, *signers)

    def config(self) -> Path:
        hepix = {
            "name": SOURCE,
            "url": self.web.url(LIST_PATH),
            "vo": VO,
            "ca_dir": str(self.lists.dirs["igtf"]),
            "endorser_dn": ENDORSER,
            **self.hepix,
        }
        sync = {
            "work_dir": str(self.work_dir),
            "lock_file": str(self.folder / "sync.lock"),
            **self.sync_options,
        }
        path = derived_config(
            self.cloud.config_file,
            self.folder,
            mapping=json.loads(self.cloud.mapping_file.read_text()),
            changes={"glance": {"tag": self.tag}, **self.config_changes},
        )
        path.write_text(path.read_text() + f"\n[sync]\n{_lines(sync)}\n[[sync.hepix]]\n{_lines(hepix)}")
        return path

    def sync(self, *options: str) -> SyncResult:
        self.capsys.readouterr()
        status = cli.main(["sync", "--config", str(self.config()), "--json", *options])
        captured = self.capsys.readouterr()
        summary = json.loads(captured.out) if captured.out.strip() else {}
        return SyncResult(status=status, summary=summary, out=captured.out, err=captured.err)

    def image_requests(self) -> list[tuple[str, str | None]]:
        return [request for request in self.web.requests if request[0].startswith("/images/")]

    def ours(self, status: str) -> dict[str, list[ImageRecord]]:
        return ours(self.state.records(), self.tag, status)

    def live(self) -> dict[str, ImageRecord]:
        """The one live image of each appliance (fails if an appliance has several)."""
        return one_live_each(self.state.records(), self.tag)

    def unfinished(self) -> list[ImageRecord]:
        """Images of ours that are neither live nor retired, or not active in Glance: orphans."""
        return [
            record
            for record in self.state.records()
            if self.tag in record.tags
            and (
                record.properties.get("APPLIANCE_STATUS") not in ("ACTIVE", "EOL")
                or record.status != "active"
            )
        ]


@contextmanager
def hepix_site(
    cloud: DevCloud,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    lists: ListPki,
    *,
    tag: str,
    web: WebServer,
) -> Iterator[HepixSite]:
    """A site whose images carry `tag`; they are deleted afterwards."""
    admin = glanceclient.Client("2", session=cloud.admin_session(), region_name=cloud.region)
    state = GlanceState(admin.images, owners=[cloud.project_id(VO)], tag=tag)
    try:
        yield HepixSite(cloud, folder, tag, capsys, state, lists, web)
    finally:
        state.delete_tagged()


def _lines(options: dict[str, Any]) -> str:
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())

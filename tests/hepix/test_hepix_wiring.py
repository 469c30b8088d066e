"""[[sync.hepix]] wired by the composition root: refusals at start-up, and when a list counts as applied."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ckos.adapters.memory_catalog import MemoryCatalog
from ckos.bootstrap import build_sync
from ckos.config import CatalogSettings, ConfigError, HepixSourceSettings, Settings, SyncSettings
from ckos.domain.sync import SyncPolicy
from support.fakes import ManualClock, StaticDirectory
from support.hepix_lists import ENDORSER, ListPki, disk, entry, image_list, make_pki
from support.web_server import WebServer

TOKEN = "appdb-secret-9d1e"
NOW = int(time.time())


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> ListPki:
    return make_pki(tmp_path_factory.mktemp("hepix-pki"))


def settings(tmp_path: Path, **source: object) -> Settings:
    hepix = HepixSourceSettings(
        **{"name": "appdb", "url": "https://lists.example.org/image.list", "endorser_dn": ENDORSER, **source}  # type: ignore[arg-type]
    )
    return Settings(
        catalog=CatalogSettings(type="memory"),
        sync=SyncSettings(work_dir=tmp_path / "work", hepix=(hepix,)),
    )


def built(tmp_path: Path, **source: object) -> object:
    return build_sync(
        settings(tmp_path, **source),
        SyncPolicy(),
        catalog=MemoryCatalog(),
        clock=ManualClock(NOW),
        directory=StaticDirectory.of(vo_example_eu="example"),
    )


def test_the_token_is_refused_over_plain_http_and_in_the_url_without_being_named(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    with pytest.raises(ConfigError, match="https only") as refused:
        built(tmp_path, url="http://lists.example.org/image.list", token_file=token_file)
    assert TOKEN not in str(refused.value)
    with pytest.raises(ConfigError, match="token_file") as refused:
        built(tmp_path, url=f"https://{TOKEN}:x-oauth-basic@lists.example.org/image.list")
    assert TOKEN not in str(refused.value)
    with pytest.raises(ConfigError, match="cannot read"):
        built(tmp_path, token_file=tmp_path / "missing")


@pytest.fixture
def web(lists: ListPki) -> Iterator[WebServer]:
    with WebServer() as server:
        data = disk("ubuntu")
        server.files["/ubuntu.img"] = data
        content = image_list(
            [entry("ubuntu", data, server.url("/ubuntu.img"), version="1")],
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 3600)),
            version="7",
        )
        server.files["/image.list"] = lists.sign(content)
        yield server


def run(
    tmp_path: Path, web: WebServer, lists: ListPki, *, vo: str = "example", dry_run: bool = False
) -> bool:
    """One sync of the list; whether the record of the list was written."""
    app = build_sync(
        settings(tmp_path, url=web.url("/image.list"), ca_dir=lists.dirs["igtf"]),
        SyncPolicy(dry_run=dry_run),
        catalog=MemoryCatalog(),
        clock=ManualClock(int(time.time())),  # after the PKI's CRLs were issued
        directory=StaticDirectory.of(**({"vo_example_eu": vo} if vo else {"fedcloud_egi_eu": "fedcloud"})),
    )
    [source] = app.sources
    app.sync.run(source)
    record = tmp_path / "work" / "hepix-state" / "appdb.json"
    return record.exists() and json.loads(record.read_text())["hv:version"] == "7"


def test_a_list_is_remembered_once_applied_never_by_a_dry_run_nor_when_the_catalog_could_not_be_read(
    tmp_path: Path, web: WebServer, lists: ListPki
) -> None:
    assert run(tmp_path / "dry", web, lists, dry_run=True) is False
    assert run(tmp_path / "unmapped", web, lists, vo="") is False  # the list's VO has no project
    assert run(tmp_path / "applied", web, lists) is True

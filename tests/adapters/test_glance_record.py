"""Reading a Glance image as the API returns it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ckos.adapters.glance.record import from_glance, to_managed
from ckos.domain.model import ImageState, ProjectRef

IMAGE = {
    "id": "0d1c2b3a-4f5e-4d6c-8b7a-9f8e7d6c5b4a",
    "owner": "5c5f7e0f44a24b559f38fdf176c02d90",
    "name": "Ubuntu",
    "disk_format": "qcow2",
    "container_format": "bare",
    "min_ram": 1024,
    "visibility": "private",
    "os_hidden": False,
    "protected": False,
    "status": "active",
    "created_at": "2026-11-26T08:53:59Z",
    "tags": ["cloudkeeper-os"],
    "size": 204804,
    "checksum": "0" * 32,
    "os_hash_algo": "sha512",
    "os_hash_value": "a" * 128,
    "APPLIANCE_ID": "app-1",
    "APPLIANCE_IMAGE_LIST_ID": "list-1",
    "vmcatcher_event_ad_mpuri": "https://m/1",
}


@pytest.mark.parametrize(
    "created_at", ["2026-11-26T08:53:59Z", "2026-11-26T08:53:59+00:00", "2026-11-26T09:53:59+01:00"]
)
def test_created_at_is_unix_seconds_whatever_the_zone_is_written_as(created_at: str) -> None:
    assert from_glance({**IMAGE, "created_at": created_at}).created_at == 1795683239


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set far from UTC for the test, and restored after it."""
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_a_time_without_zone_is_utc_not_the_hosts_local_time() -> None:
    assert from_glance({**IMAGE, "created_at": "2026-11-26T08:53:59"}).created_at == 1795683239


def test_the_record_keeps_string_properties_only_and_reads_the_sha512() -> None:
    record = from_glance(IMAGE)
    assert dict(record.properties) == {
        "APPLIANCE_ID": "app-1",
        "APPLIANCE_IMAGE_LIST_ID": "list-1",
        "vmcatcher_event_ad_mpuri": "https://m/1",
    }
    managed = to_managed(record, ProjectRef(name="other"), "cloudkeeper-os")
    assert managed is not None
    assert (managed.state, managed.sha512, managed.size) == (ImageState.ACTIVE, "a" * 128, 204804)
    assert to_managed(record, ProjectRef(name="other"), "another-tag") is None

"""Every HTTP request made through keystoneauth sessions (Keystone's and Glance's alike)."""

from __future__ import annotations

from typing import Any

import pytest
from attrs import frozen
from keystoneauth1 import session as ks_session


@frozen
class Request:
    session: ks_session.Session
    method: str
    url: str  # as given to the session: absolute for Keystone, a path for Glance


def record_requests(monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    """Start recording; the list fills as requests are made, until the test ends."""
    log: list[Request] = []
    original = ks_session.Session.request

    def request(self: ks_session.Session, url: str, method: str, *args: Any, **kwargs: Any) -> Any:
        log.append(Request(self, method, url))
        return original(self, url, method, *args, **kwargs)

    monkeypatch.setattr(ks_session.Session, "request", request)
    return log

"""Counting the HTTP requests ckos sends, by server, call and the RPC being served."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests

from ckos.domain.model import Appliance, ImageSource
from ckos.entrypoints.grpc.servicer import CommunicatorBackend

_ID = re.compile(r"/[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}(?=/|$)")


class Meter:
    """Counts every request of this process while installed; `rpc` names what caused them."""

    def __init__(self, *, keystone: str, glance: str) -> None:
        self._servers = {"keystone": keystone.rstrip("/"), "glance": glance.rstrip("/")}
        self._lock = threading.Lock()
        self.rpc = "-"
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (server, rpc, "METHOD /path")

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def count(self, method: str, url: str) -> None:
        server = next((name for name, base in self._servers.items() if url.startswith(base)), "other")
        path = _ID.sub("/{id}", urlsplit(url).path)
        with self._lock:
            self.calls[(server, self.rpc, f"{method} {path}")] += 1

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Wrap requests.Session.send, which every keystoneauth1 session (and glanceclient) uses."""
        original: Callable[..., Any] = requests.Session.send

        def send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
            self.count(request.method or "?", request.url or "")
            return original(session, request, **kwargs)

        requests.Session.send = send  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            requests.Session.send = original  # type: ignore[method-assign]

    def summary(self) -> dict[str, Any]:
        with self._lock:
            calls = Counter(self.calls)
        totals: Counter[str] = Counter()
        by_rpc: Counter[tuple[str, str]] = Counter()
        keystone: Counter[str] = Counter()
        for (server, rpc, call), count in calls.items():
            totals[server] += count
            if server == "glance":
                by_rpc[(rpc, call)] += count
            else:
                keystone[call] += count
        return {
            "glance": totals["glance"],
            "keystone": totals["keystone"],
            "other": totals["other"],
            "by_rpc": by_rpc,
            "keystone_by_call": keystone,
        }


class MeteredBackend(CommunicatorBackend):
    """The backend, telling the meter which RPC it serves (the core's calls come one at a time)."""

    def __init__(self, backend: CommunicatorBackend, meter: Meter) -> None:
        self._backend = backend
        self._meter = meter

    def _as(self, rpc: str) -> CommunicatorBackend:
        self._meter.rpc = rpc
        return self._backend

    def pre_action(self) -> object:
        return self._as("PreAction").pre_action()

    def post_action(self) -> object:
        return self._as("PostAction").post_action()

    def add_appliance(self, appliance: Appliance, source: ImageSource | None) -> object:
        return self._as("AddAppliance").add_appliance(appliance, source)

    def update_appliance(self, appliance: Appliance, source: ImageSource | None) -> object:
        return self._as("UpdateAppliance").update_appliance(appliance, source)

    def update_appliance_metadata(self, appliance: Appliance) -> object:
        return self._as("UpdateApplianceMetadata").update_appliance_metadata(appliance)

    def remove_appliance(self, appliance: Appliance) -> object:
        return self._as("RemoveAppliance").remove_appliance(appliance)

    def remove_image_list(self, image_list_identifier: str) -> object:
        return self._as("RemoveImageList").remove_image_list(image_list_identifier)

    def image_lists(self) -> Sequence[str]:
        return self._as("ImageLists").image_lists()

    def appliances(self, image_list_identifier: str) -> Sequence[Appliance]:
        return self._as("Appliances").appliances(image_list_identifier)

    def remove_expired_appliances(self) -> object:
        return self._as("RemoveExpiredAppliances").remove_expired_appliances()

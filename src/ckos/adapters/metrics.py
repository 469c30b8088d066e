"""Prometheus metrics in a registry of their own, served on their own HTTP listener.

Calls are counted as they finish; transfer totals are read from Transfers at each scrape; the
count of managed images by state is refreshed by each collection (PostAction and
RemoveExpiredAppliances list every image anyway), so scrapes never reach Glance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ckos.adapters.image_data.transfers import Transfers
from ckos.domain.outcome import Outcome

# From a listing (milliseconds) to the upload of a large image (an hour).
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)


class Metrics:
    def __init__(self, transfers: Transfers) -> None:
        self.registry = CollectorRegistry()
        self._calls = Counter(
            "ckos_rpc_calls",
            "Communicator calls, by RPC and status code",
            ["rpc", "code"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "ckos_rpc_duration_seconds",
            "Duration of Communicator calls, by RPC and status code",
            ["rpc", "code"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._images = Gauge(
            "ckos_managed_images",
            "Images of ours by lifecycle state (live, retired, unfinished) at the last collection",
            ["state"],
            registry=self.registry,
        )
        self._collected = Counter(
            "ckos_collected_images",
            "Images collection deleted, or kept because the catalog reported them in use",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("deleted", "kept_in_use"):
            self._collected.labels(outcome)  # shown as 0 before the first collection
        self.registry.register(_TransferTotals(transfers))

    def call_finished(self, rpc: str, code: str, seconds: float, outcome: Outcome | None) -> None:
        """Count one finished call and what its outcome reports."""
        self._calls.labels(rpc, code).inc()
        self._latency.labels(rpc, code).observe(seconds)
        if outcome is None:
            return
        if outcome.census is not None:
            for state, count in outcome.census.items():
                self._images.labels(state).set(count)
        self._collected.labels("deleted").inc(len(outcome.deleted))
        self._collected.labels("kept_in_use").inc(len(outcome.kept_in_use))

    def expose(self, host: str, port: int) -> tuple[int, Callable[[], None]]:
        """Serve /metrics on host:port in a background thread; returns the bound port and a stop."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return server.server_port, stop


class _TransferTotals(Collector):
    """Read at each scrape from the Transfers wrapper, which counts without knowing Prometheus."""

    def __init__(self, transfers: Transfers) -> None:
        self._transfers = transfers

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "ckos_image_bytes_read",
            "Bytes read from offered images (LOCAL and REMOTE), failed transfers included",
            value=self._transfers.bytes_read,
        )
        yield GaugeMetricFamily(
            "ckos_transfers_in_flight", "Image transfers in progress", value=self._transfers.in_flight
        )

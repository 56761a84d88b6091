"""Prometheus metrics escbot exposes on ``GET /metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """One registry per app, so tests and the demo can run several apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "escbot_http_requests",
            "HTTP requests served",
            ["path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "escbot_http_request_seconds",
            "Time to answer an HTTP request",
            ["path"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3, 5),
            registry=self.registry,
        )

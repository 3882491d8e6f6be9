"""Prometheus metrics: requests by route and status, latency, scores by segment, model."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """The service's metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "leadscore_requests", "HTTP requests handled.", ["method", "route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "leadscore_request_seconds", "Time to answer a request.", ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )  # fmt: skip
        self.scores = Counter(
            "leadscore_scores", "Leads scored, by segment.", ["segment"], registry=self.registry
        )
        self.model = Gauge(
            "leadscore_model_info", "The model being served (value 1).", ["version"],
            registry=self.registry,
        )  # fmt: skip
        self.events = Counter(
            "leadscore_events", "Behaviour events received (new ones).", ["kind"],
            registry=self.registry,
        )  # fmt: skip

    def serving(self, version: str) -> None:
        self.model.clear()
        self.model.labels(version=version).set(1)


class MetricsMiddleware:
    """Counts and times every HTTP request under its route template (not the raw path,
    which would make a time series per lead id)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)

"""Prometheus metrics, correct under gunicorn's several worker processes.

When PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it before any
worker starts), prometheus-client keeps each process's values in files there
and a scrape sums them with MultiProcessCollector; otherwise the app's own
registry is served, which is what tests and `flask run` use.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

# Label values a client cannot multiply: any other method counts as "other",
# any other status as its class ("4xx"), so the series stay a fixed set.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KNOWN_STATUSES = frozenset({200, 204, 301, 302, 304, 400, 404, 405, 413, 500, 503})

# Buckets sized for a page that takes about a millisecond and one Redis round trip.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "friendlyhello_http_requests_total", "HTTP requests answered.",
            ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(
            "friendlyhello_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.redis_errors = Counter(
            "friendlyhello_redis_errors_total", "Redis commands that failed.",
            ["operation"], registry=self.registry)
        self.visits = Gauge(
            "friendlyhello_visits", "The visit count Redis held at the latest scrape that could read it.",
            multiprocess_mode="mostrecent", registry=self.registry)
        self.counter_degraded = Gauge(
            "friendlyhello_counter_degraded",
            "1 while the pod's visit counter is cut off from Redis (its circuit breaker open), else 0; "
            "as the latest scrape found it.",
            multiprocess_mode="mostrecent", registry=self.registry)
        # (route, method, status) -> its counter and histogram children: the
        # few label sets there are, looked up once each.
        self._series: dict[tuple[str, str, str], tuple] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """ROUTE must be a route's template (or "unmatched"): never the path a
        client sent, which would let anyone add series without bound."""
        labels = (route, method if method in KNOWN_METHODS else "other",
                  str(status) if status in KNOWN_STATUSES else f"{status // 100}xx")
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = (self.requests.labels(*labels), self.latency.labels(*labels))
        series[0].inc()
        series[1].observe(seconds)

    def redis_error(self, operation: str) -> None:
        self.redis_errors.labels(operation).inc()

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

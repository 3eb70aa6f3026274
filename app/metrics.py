"""Prometheus metrics, correct under gunicorn's several worker processes.

When PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it before any
worker starts), prometheus-client keeps each process's values in files there
and a scrape sums them with MultiProcessCollector; otherwise the app's own
registry is served, which is what tests and `flask run` use.

A request is recorded once, in the latency histogram; the request counter
served beside it is the histogram's count, read at each scrape
(RequestsFromLatency). In multiprocess mode each recorded value is a locked
write to a file, so a second one per request would cost as much again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, Metric

# Label values a client cannot multiply: any other method counts as "other",
# any other status as its class ("4xx"), so the series stay a fixed set.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KNOWN_STATUSES = frozenset({200, 204, 301, 302, 304, 400, 404, 405, 413, 500, 503})

REQUESTS = "friendlyhello_http_requests"
LATENCY = "friendlyhello_http_request_duration_seconds"
REQUEST_LABELS = ("route", "method", "status")
# Buckets sized for a page that takes about a millisecond and one Redis round trip.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            LATENCY, "Time to answer an HTTP request.",
            REQUEST_LABELS, buckets=LATENCY_BUCKETS, registry=self.registry)
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
        # (route, method, status) -> its histogram child: the few label sets
        # there are, looked up once each.
        self._series: dict[tuple[str, str, str], Histogram] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """ROUTE must be a route's template (or "unmatched"): never the path a
        client sent, which would let anyone add series without bound."""
        labels = (route, method if method in KNOWN_METHODS else "other",
                  str(status) if status in KNOWN_STATUSES else f"{status // 100}xx")
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = self.latency.labels(*labels)
        series.observe(seconds)

    def redis_error(self, operation: str) -> None:
        self.redis_errors.labels(operation).inc()

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            recorded = CollectorRegistry()
            multiprocess.MultiProcessCollector(recorded)
        else:
            recorded = self.registry
        served = CollectorRegistry()
        served.register(RequestsFromLatency(recorded))
        return generate_latest(served)


class RequestsFromLatency:
    """A collector: what RECORDED collects, and friendlyhello_http_requests_total,
    the requests answered, as the latency histogram counted them."""

    def __init__(self, recorded: CollectorRegistry):
        self.recorded = recorded

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(REQUESTS, "HTTP requests answered.", labels=REQUEST_LABELS)
        for family in self.recorded.collect():
            if family.name == REQUESTS:
                # Files a worker of an older version left (a dev loop's reload
                # keeps the directory): the histogram counts these requests too.
                continue
            yield family
            if family.name == LATENCY:
                for sample in family.samples:
                    if sample.name == f"{LATENCY}_count":
                        requests.add_metric([sample.labels[name] for name in REQUEST_LABELS], sample.value)
        yield requests

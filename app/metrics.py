"""Prometheus metrics, correct under gunicorn's several worker processes.

When PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it before any
worker starts), prometheus-client keeps each process's values in files there
and a scrape sums them with MultiProcessCollector; otherwise the app's own
registry is served, which is what tests and `flask run` use.

Every request is counted and timed, but in memory first: the totals go to
prometheus-client every FLUSH_SECONDS, before this process serves a scrape,
and when it exits. Each update of a multiprocess value costs a lock, a pid
check and a write into its file; three or four of them per request were
about a tenth of the page's CPU (make bench). A scrape may thus show the
other workers' last FLUSH_SECONDS late; a worker that is killed (SIGKILL)
loses what it counted in its last FLUSH_SECONDS, one that exits flushes.
"""

from __future__ import annotations

import bisect
import os
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

from .periodic import Periodic

# Label values a client cannot multiply: any other method counts as "other",
# any other status as its class ("4xx"), so the series stay a fixed set.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KNOWN_STATUSES = frozenset({200, 204, 301, 302, 304, 400, 404, 405, 413, 500, 503})

# Buckets sized for a page that takes about a millisecond and one Redis round trip.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
FLUSH_SECONDS = 1.0
_UPPER_BOUNDS = (*LATENCY_BUCKETS, float("inf"))


def _no_requests() -> list:
    """Totals of one label set: [requests, seconds, requests per latency bucket]."""
    return [0, 0.0, [0] * len(_UPPER_BOUNDS)]


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
            "friendlyhello_visits", "The visit count last read from or written to Redis.",
            multiprocess_mode="mostrecent", registry=self.registry)
        self._lock = threading.Lock()  # guards _pending and _visits
        self._flushing = threading.Lock()  # one flush at a time: a scrape's waits for the thread's
        # the labels (route, method, status) -> their totals (_no_requests)
        self._pending: dict[tuple[str, str, str], list] = {}
        self._visits: tuple[int, float] | None = None  # the count, and when Redis gave it
        self._flusher = Periodic("metrics", FLUSH_SECONDS, self.flush)
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock, self._flushing = threading.Lock(), threading.Lock()
        self._pending, self._visits = {}, None  # the parent's to report

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """ROUTE must be a route's template (or "unmatched"): never the path a
        client sent, which would let anyone add series without bound."""
        bucket = bisect.bisect_left(_UPPER_BOUNDS, seconds)  # the first bound >= seconds, as observe() picks
        key = (route, method if method in KNOWN_METHODS else "other",
               str(status) if status in KNOWN_STATUSES else f"{status // 100}xx")
        with self._lock:
            totals = self._pending.get(key)
            if totals is None:
                totals = self._pending[key] = _no_requests()
            totals[0] += 1
            totals[1] += seconds
            totals[2][bucket] += 1
        self._flusher.ensure_running()

    def visits_seen(self, value: int) -> None:
        """The count last read from or written to Redis (the gauge)."""
        seen = (value, time.time())
        with self._lock:
            self._visits = seen
        self._flusher.ensure_running()

    def flush(self) -> None:
        """Adds what was counted in memory to prometheus-client's values. A
        write that fails loses its own label set's counts; the rest wait for
        the next flush."""
        with self._flushing:
            with self._lock:
                pending, self._pending = self._pending, {}
                visits, self._visits = self._visits, None
            try:
                while pending:
                    labels, (requests, seconds, buckets) = pending.popitem()
                    self.requests.labels(*labels).inc(requests)
                    histogram = self.latency.labels(*labels)
                    # What `observe` does once per request, in one step per bucket:
                    # a histogram child keeps the sum and a count per bucket
                    # (tests/unit/test_metrics.py compares both ways on every release).
                    histogram._sum.inc(seconds)
                    for bucket, count in enumerate(buckets):
                        if count:
                            histogram._buckets[bucket].inc(count)
                if visits is not None:
                    # Across workers the gauge shows the value with the latest
                    # timestamp: the time Redis gave the count, not this flush's.
                    self.visits._value.set(float(visits[0]), timestamp=visits[1])
            except BaseException:
                with self._lock:
                    for labels, totals in pending.items():
                        kept = self._pending.setdefault(labels, _no_requests())
                        kept[0] += totals[0]
                        kept[1] += totals[1]
                        kept[2] = [a + b for a, b in zip(kept[2], totals[2])]
                    if self._visits is None:
                        self._visits = visits
                raise

    def exposition(self) -> bytes:
        self.flush()  # this process's own requests are all in (waits for a flush under way)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

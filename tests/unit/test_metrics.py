import os
import subprocess
import sys
import textwrap

import pytest

from app.metrics import LATENCY_BUCKETS, Metrics
from tests.support import ROOT, metric


@pytest.mark.parametrize("method,status,labels", [
    ("GET", 200, {"method": "GET", "status": "200"}),
    ("BREW", 418, {"method": "other", "status": "4xx"}),
    ("GET", 599, {"method": "GET", "status": "5xx"}),
])
def test_labels_are_bounded_before_counting(method, status, labels):
    metrics = Metrics()
    metrics.observe_request("unmatched", method, status, 0.01)
    metrics.observe_request("unmatched", method, status, 0.02)
    text = metrics.exposition().decode()
    assert metric(text, "friendlyhello_http_requests_total", route="unmatched", **labels) == 2


def test_each_request_is_timed_into_its_bucket():
    metrics = Metrics()
    durations = [0.0004, LATENCY_BUCKETS[0], LATENCY_BUCKETS[0] * 1.01, 7.5]
    for seconds in durations:
        metrics.observe_request("/", "GET", 200, seconds)
    text = metrics.exposition().decode()
    labels = {"route": "/", "method": "GET", "status": "200"}

    def bucket(bound):
        return metric(text, "friendlyhello_http_request_duration_seconds_bucket", le=bound, **labels)

    assert bucket(str(LATENCY_BUCKETS[0])) == 2, "a bound is inclusive"
    assert bucket(str(LATENCY_BUCKETS[1])) == 3
    assert bucket("+Inf") == len(durations)
    assert metric(text, "friendlyhello_http_request_duration_seconds_sum", **labels) == pytest.approx(sum(durations))


def test_redis_errors_are_counted_by_operation():
    metrics = Metrics()
    metrics.redis_error("incr")
    metrics.redis_error("incr")
    metrics.redis_error("get")
    text = metrics.exposition().decode()
    assert metric(text, "friendlyhello_redis_errors_total", operation="incr") == 2
    assert metric(text, "friendlyhello_redis_errors_total", operation="get") == 1


def test_requests_are_served_once_beside_a_counter_file_an_older_worker_left(tmp_path):
    """A dev loop's reload keeps the metrics directory: files of workers that
    still counted requests in a Counter must not make the series appear twice."""
    older = textwrap.dedent("""
        from prometheus_client import Counter
        Counter("friendlyhello_http_requests_total", "HTTP requests answered.",
                ["route", "method", "status"]).labels("/", "GET", "200").inc(5)
    """)
    newer = textwrap.dedent("""
        import sys
        from app.metrics import Metrics
        metrics = Metrics()
        metrics.observe_request("/", "GET", 200, 0.01)
        sys.stdout.write(metrics.exposition().decode())
    """)
    # Each in a process of its own: prometheus-client picks its storage when first imported.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", older], env=env, check=True)
    text = subprocess.run([sys.executable, "-c", newer], env=env, cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    assert text.count("# TYPE friendlyhello_http_requests_total counter") == 1
    assert metric(text, "friendlyhello_http_requests_total", route="/", method="GET", status="200") == 1

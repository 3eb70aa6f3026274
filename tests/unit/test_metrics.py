import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from app.metrics import LATENCY_BUCKETS, Metrics
from tests.conftest import metric

# Durations around every bucket bound, and beyond the last.
DURATIONS = [0.0, 0.0004, *LATENCY_BUCKETS, *(bound * 1.01 for bound in LATENCY_BUCKETS), 7.5]


def latency_lines(text: bytes) -> list[str]:
    return sorted(line for line in text.decode().splitlines()
                  if line.startswith("friendlyhello_http_request_duration_seconds_") and "_created" not in line)


def test_counted_in_bulk_is_what_observing_each_request_gives():
    """The flush writes a histogram child's sum and buckets directly; this
    compares it with prometheus-client's own observe(), so a release of the
    library that keeps them otherwise fails here, not in production."""
    metrics = Metrics()
    reference = CollectorRegistry()
    histogram = Histogram("friendlyhello_http_request_duration_seconds", "Time to answer an HTTP request.",
                          ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=reference)
    for seconds in DURATIONS:
        metrics.observe_request("/", "GET", 200, seconds)
        histogram.labels("/", "GET", "200").observe(seconds)
    assert latency_lines(metrics.exposition()) == latency_lines(generate_latest(reference))
    assert metric(metrics.exposition().decode(), "friendlyhello_http_requests_total",
                  route="/", method="GET", status="200") == len(DURATIONS)


@pytest.mark.parametrize("method,status,labels", [
    ("GET", 200, {"method": "GET", "status": "200"}),
    ("BREW", 418, {"method": "other", "status": "4xx"}),
])
def test_labels_are_bounded_before_counting(method, status, labels):
    metrics = Metrics()
    metrics.observe_request("unmatched", method, status, 0.01)
    metrics.observe_request("unmatched", method, status, 0.02)
    text = metrics.exposition().decode()
    assert metric(text, "friendlyhello_http_requests_total", route="unmatched", **labels) == 2


def test_the_scraping_process_reports_all_it_counted_and_the_last_count():
    metrics = Metrics()
    for count in (5, 6, 7):
        metrics.visits_seen(count)
        metrics.observe_request("/", "GET", 200, 0.001)
    text = metrics.exposition().decode()
    assert metric(text, "friendlyhello_visits") == 7
    assert metric(text, "friendlyhello_http_requests_total", route="/", method="GET", status="200") == 3


def test_a_failed_write_keeps_the_other_label_sets_for_the_next_flush(monkeypatch):
    metrics = Metrics()
    metrics.observe_request("/", "GET", 200, 0.001)
    metrics.observe_request("/api/visits", "POST", 200, 0.001)
    labels = metrics.requests.labels

    def failing(*values):
        if values[0] == "/api/visits":
            raise OSError("no space left on device")
        return labels(*values)

    monkeypatch.setattr(metrics.requests, "labels", failing)
    with pytest.raises(OSError):
        metrics.flush()
    monkeypatch.setattr(metrics.requests, "labels", labels)
    text = metrics.exposition().decode()
    assert metric(text, "friendlyhello_http_requests_total", route="/", method="GET", status="200") == 1
    assert not [line for line in text.splitlines()
                if line.startswith("friendlyhello_http_requests_total{") and 'route="/api/visits"' in line], \
        "the label set whose write failed is the only one lost"

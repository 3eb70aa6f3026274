"""The service as it runs in production: gunicorn with gunicorn.conf.py, real Redis."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support import ROOT, VISITS, metric, raw_request, wait_until


def test_parallel_visits_are_counted_exactly(gunicorn, redis_server):
    server = gunicorn(WEB_CONCURRENCY="2", GUNICORN_THREADS="8")
    visits = 400

    def visit(_):
        response = requests.get(server.url + "/", timeout=10)
        assert response.status_code == 200
        return int(VISITS.search(response.text).group(1))

    with ThreadPoolExecutor(max_workers=32) as pool:
        counts = list(pool.map(visit, range(visits)))
    assert sorted(counts) == list(range(1, visits + 1)), "every visit saw its own INCR result"
    assert int(redis_server.client().get("counter")) == visits


def visit_until_each_worker_answered(server) -> int:
    """Visits the page until each of SERVER's workers has answered, and
    returns how many visits that took. The port accepts before the workers
    have loaded the app; a new connection per visit lets the kernel spread
    them over the workers that have. Each worker writes its own histogram
    file at its first answer."""
    metrics_dir, workers = Path(server.env["PROMETHEUS_MULTIPROC_DIR"]), int(server.env["WEB_CONCURRENCY"])
    batches = []

    def each_answered() -> bool:
        with ThreadPoolExecutor(max_workers=8) as pool:
            batches.append(len(list(pool.map(lambda _: requests.get(server.url + "/", timeout=10), range(100)))))
        return len(list(metrics_dir.glob("histogram_*.db"))) >= workers

    wait_until(each_answered, timeout=60, interval=0, message=f"each of {workers} workers to answer")
    return sum(batches)


def test_metrics_are_summed_across_workers(gunicorn):
    server = gunicorn(WEB_CONCURRENCY="2", GUNICORN_THREADS="4")
    requests_sent = visit_until_each_worker_answered(server)

    text = requests.get(server.url + "/metrics", timeout=10).text
    assert metric(text, "friendlyhello_http_requests_total", route="/", method="GET", status="200") == requests_sent
    assert metric(text, "friendlyhello_visits") == requests_sent


# How long the test's load runs while Redis is frozen, and how many requests it
# may send at most (the loop stops at whichever comes first).
FROZEN_SECONDS = 3.0
FROZEN_MAX_REQUESTS = 5000
SOCKET_TIMEOUT = 0.5


def test_a_frozen_redis_costs_only_the_probes(gunicorn, redis_server):
    """A frozen Redis (a paused process: connections open, nothing answers)
    makes each command wait the socket timeout. Under concurrent load, only
    the requests in flight when it froze and the breaker's probes may wait;
    every other request answers degraded at once."""
    server = gunicorn(WEB_CONCURRENCY="2", GUNICORN_THREADS="8", REDIS_SOCKET_TIMEOUT=str(SOCKET_TIMEOUT))
    assert VISITS.search(requests.get(server.url + "/", timeout=5).text)
    latencies, statuses, lock = [], [], threading.Lock()

    def client():
        session = requests.Session()
        deadline = time.monotonic() + FROZEN_SECONDS
        while time.monotonic() < deadline and len(latencies) < FROZEN_MAX_REQUESTS:
            started = time.perf_counter()
            page = session.get(server.url + "/", timeout=10)
            with lock:
                latencies.append(time.perf_counter() - started)
                statuses.append(page.status_code)

    redis_server.freeze()
    try:
        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        redis_server.thaw()
    waited = [latency for latency in latencies if latency >= SOCKET_TIMEOUT / 2]
    print(f"\nfrozen Redis, 8 clients for {FROZEN_SECONDS}s: {len(latencies)} requests, "
          f"longest {max(latencies) * 1000:.0f} ms, waited on Redis {len(waited)} "
          f"({100 * len(waited) / len(latencies):.1f}%)")
    assert set(statuses) == {200}
    # One socket timeout at most per request (the figure above says by how
    # much scheduling on a busy machine added to it): never two.
    assert max(latencies) < 2 * SOCKET_TIMEOUT, "a request waited on Redis more than once"
    # Without the breaker every request would wait, and the clients could send
    # only 8 / 0.5 s: a few dozen requests, all of them waiting.
    assert len(latencies) >= 200, f"only {len(latencies)} requests: they waited on Redis"
    assert len(waited) <= 0.05 * len(latencies), f"{len(waited)} of {len(latencies)} waited on Redis"

    wait_until(lambda: VISITS.search(requests.get(server.url + "/", timeout=5).text),
               timeout=10, interval=0.05, message="the page to count again")


def test_sigterm_drains_in_flight_requests(gunicorn, redis_server):
    """SIGTERM: /readyz turns 503 at once while new requests are still served
    for SHUTDOWN_DELAY; then no new request is answered, the request still in
    flight completes and counts, and the server exits 0 within its budget."""
    delay, graceful = 1.5, 8
    server = gunicorn(WEB_CONCURRENCY="1", GUNICORN_THREADS="4", SHUTDOWN_DELAY=str(delay),
                      GRACEFUL_TIMEOUT=str(graceful), REDIS_SOCKET_TIMEOUT="10")
    assert requests.get(server.url + "/", timeout=5).status_code == 200
    redis = redis_server.client()
    # Redis holds writes, so the next visit is in flight (its INCR blocked in
    # Redis, which says so) when SIGTERM arrives, and past the delay.
    redis.execute_command("CLIENT", "PAUSE", str(int((delay + 2.5) * 1000)), "WRITE")
    in_flight = {}

    def slow_visit():
        response = requests.get(server.url + "/", timeout=20)
        in_flight["status"], in_flight["text"] = response.status_code, response.text

    visitor = threading.Thread(target=slow_visit)
    visitor.start()
    wait_until(lambda: redis.info("clients")["blocked_clients"] == 1, timeout=5,
               message="the visit's INCR to wait in Redis")
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    wait_until(lambda: requests.get(server.url + "/readyz", timeout=2).status_code == 503,
               timeout=delay, message="/readyz to turn 503 on SIGTERM")
    assert requests.get(server.url + "/healthz", timeout=2).status_code == 200

    def not_answered():
        try:
            requests.get(server.url + "/healthz", timeout=0.5)
            return False
        except requests.RequestException:
            return True

    wait_until(not_answered, timeout=delay + 1.5, interval=0.1, message="new requests to go unanswered")
    assert time.monotonic() - signalled >= delay * 0.9, "new requests were served until the delay was over"
    assert "status" not in in_flight, "the in-flight visit was still waiting on Redis"
    visitor.join(timeout=20)
    assert in_flight["status"] == 200
    assert "<b>Visits:</b> 2" in in_flight["text"], "the in-flight visit completed and counted"
    assert server.process.wait(timeout=graceful + 5) == 0


@pytest.mark.parametrize("payload", [
    b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n",
    b"NOT-HTTP\r\n\r\n",
    b"POST /api/visits HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
    b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW /api/visits HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /api/visits HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
], ids=["long-url", "big-header", "garbage", "oversized-body", "bad-escape", "odd-method", "bad-chunk"])
def test_odd_requests_are_4xx_never_5xx(gunicorn, payload):
    server = gunicorn(WEB_CONCURRENCY="1")
    status = raw_request(server.port, payload)
    assert status is not None and 400 <= status < 500, status


def test_malformed_content_length_is_a_logged_400(gunicorn):
    """gunicorn answers it itself, with a reply that has a status line and no
    status code: the access log must take it as it is, not drop the reply."""
    server = gunicorn(WEB_CONCURRENCY="1")
    status = raw_request(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
    assert status == 400
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
    server.stop()
    logged = server.log_entries()
    assert any(entry["logger"] == "gunicorn.access" and entry["status"] == 400 for entry in logged), logged


def test_logs_are_json_lines_with_request_ids(gunicorn, tmp_path):
    server = gunicorn(WEB_CONCURRENCY="1")
    requests.get(server.url + "/", headers={"X-Request-ID": "trace-42"}, timeout=5)
    generated = requests.get(server.url + "/", timeout=5).headers["X-Request-ID"]
    server.stop()
    entries = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    access = [entry for entry in entries if entry["logger"] == "gunicorn.access"]
    assert {entry["request_id"] for entry in access} >= {"trace-42", generated}
    assert all(entry["status"] == 200 for entry in access if entry["path"] == "/")


def test_every_access_line_is_written_by_the_time_the_server_stops(gunicorn):
    """Access lines are queued for a writer thread; a worker that stops writes out what it holds."""
    server = gunicorn(WEB_CONCURRENCY="2")
    with requests.Session() as session:
        ids = [session.get(server.url + "/", timeout=5).headers["X-Request-ID"] for _ in range(300)]
    assert server.stop() == 0
    logged = server.log_entries()
    assert sorted(entry["request_id"] for entry in logged if entry["logger"] == "gunicorn.access"
                  and entry["path"] == "/") == sorted(ids)


@pytest.mark.parametrize("edited", ["app/templates/index.html", "app/views.py", "app/edge.py"])
def test_reload_serves_an_edited_file(gunicorn, tmp_path, edited):
    """GUNICORN_RELOAD=1 (the dev loop): an edit is served without restarting gunicorn."""
    source = tmp_path / "src"
    shutil.copytree(ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "gunicorn.conf.py", source)
    server = gunicorn(cwd=source, GUNICORN_RELOAD="1", WEB_CONCURRENCY="2")
    # gunicorn's reloader takes a file's time when it first sees it, after the
    # worker has imported the app: an edit in between is never served. Edit
    # only once every worker answers.
    visit_until_each_worker_answered(server)
    assert "Hello world!" in requests.get(server.url + "/", timeout=5).text
    path = source / edited
    # Each edit, and how an answer shows it was served.
    edits = {
        "app/templates/index.html": (("<h3>Hello", "<h3>Edited: Hello"),
                                     lambda answer: "Edited: Hello world!" in answer.text),
        "app/edge.py": (('("Cache-Control", "no-store"),', '("Cache-Control", "no-store"), ("X-Edited", "yes"),'),
                        lambda answer: answer.headers.get("X-Edited") == "yes"),
        "app/views.py": (("\n@pages.get(PAGE)",
                          '\n@pages.get("/edited")\ndef edited():\n    return "edited"\n\n\n@pages.get(PAGE)'),
                         lambda answer: answer.status_code == 200 and answer.text == "edited"),
    }
    (old, new), shows_edit = edits[edited]
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))

    def served():
        return shows_edit(requests.get(server.url + ("/edited" if edited.endswith("views.py") else "/"), timeout=5))

    # Every worker must serve the edit, so ask more times than there are workers.
    wait_until(lambda: all(served() for _ in range(6)), timeout=30, interval=0.2,
               message=f"the edit of {edited} to be served")
    assert server.process.poll() is None, "the master kept running"


def test_metrics_files_are_emptied_at_start_and_only_they(gunicorn, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999.db").write_bytes(b"stale")
    (metrics_dir / "keep.txt").write_text("not the server's")
    server = gunicorn()
    assert not (metrics_dir / "counter_999.db").exists(), "a previous run's counts were removed"
    assert (metrics_dir / "keep.txt").read_text() == "not the server's"
    requests.get(server.url + "/", timeout=5)
    before = sorted(p.name for p in metrics_dir.glob("*.db"))
    check = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--check-config"],
                           cwd=ROOT, env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                                          "REDIS_HOST": "127.0.0.1"}, capture_output=True, timeout=60)
    assert check.returncode == 0, check.stderr
    after = {p.name for p in metrics_dir.glob("*.db")}
    assert set(before) <= after, f"loading the config deleted {sorted(set(before) - after)}"

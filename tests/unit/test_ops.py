from app import __version__, create_app
from tests.support import metric, settings_for, wait_until


def test_healthz_never_touches_redis(client, redis_server):
    redis_server.stop()
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_stays_ready_when_redis_is_down(client, redis_server):
    assert client.get("/readyz").json == {"status": "ready", "redis": "up"}
    redis_server.stop()
    client.get("/")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["redis"] == "down"


def test_readyz_is_503_while_draining(app, client):
    app.extensions["friendlyhello"].draining.set()
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_version_without_and_with_build_info(client, redis_server):
    assert client.get("/version").json == {"version": __version__, "revision": None}
    built = create_app(settings_for(redis_server, version="1.2.3", git_revision="0123abc"))
    assert built.test_client().get("/version").json == {"version": "1.2.3", "revision": "0123abc"}


def test_metrics_count_requests_errors_and_visits(client, redis_server):
    for _ in range(3):
        client.get("/")
    assert metric(client.get("/metrics").text, "friendlyhello_visits") == 3, "the count Redis holds"
    client.get("/nope")
    redis_server.stop()
    client.get("/")
    response = client.get("/metrics")
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Type"].count("charset") == 1
    text = response.text
    assert metric(text, "friendlyhello_http_requests_total", route="/", method="GET", status="200") == 4
    assert metric(text, "friendlyhello_http_requests_total", route="unmatched", method="GET",
                  status="404") == 1
    assert metric(text, "friendlyhello_http_request_duration_seconds_count", route="/",
                  method="GET", status="200") == 4
    assert metric(text, "friendlyhello_redis_errors_total", operation="incr") == 1
    assert metric(text, "friendlyhello_visits") == 3, "during an outage: the last count read"


def test_label_values_stay_a_fixed_set_whatever_clients_send(client):
    """1,000 made-up methods and paths add no series: they count as "other" and "unmatched"."""
    def series(text):
        return {line.split(" ")[0] for line in text.splitlines() if line.startswith("friendlyhello_http")}

    # One of each kind first: the flood must then add nothing at all.
    client.get("/healthz")
    client.get("/metrics")
    client.open("/healthz", method="BREW")
    client.open("/made/up", method="BREW")
    before = series(client.get("/metrics").text)
    for number in range(1000):
        client.open(f"/made/up/{number}", method=f"M{chr(65 + number % 26) * 3}{number}")
    after = series(client.get("/metrics").text)
    print(f"\nseries before the flood {len(before)}, after {len(after)}")
    assert after == before, sorted(after - before)
    assert not any("made" in s or '"M' in s for s in after)


def test_scrapes_during_an_outage_add_no_redis_errors(redis_server):
    # The breaker's delay outlasts the scrapes: none of them may ask Redis.
    client = create_app(settings_for(redis_server, redis_backoff_initial=60, redis_backoff_max=60)).test_client()
    client.get("/")
    redis_server.stop()
    client.get("/")
    for _ in range(20):
        client.get("/metrics")
    assert metric(client.get("/metrics").text, "friendlyhello_redis_errors_total", operation="incr") == 1
    assert "friendlyhello_redis_errors_total{operation=\"get\"}" not in client.get("/metrics").text


def test_the_degraded_gauge_follows_redis_even_with_no_visitors(client, redis_server):
    assert metric(client.get("/metrics").text, "friendlyhello_counter_degraded") == 0
    redis_server.stop()
    assert metric(client.get("/metrics").text, "friendlyhello_counter_degraded") == 1, "the scrape's read failed"
    assert metric(client.get("/metrics").text, "friendlyhello_counter_degraded") == 1, "still, within the delay"
    redis_server.start()
    # The breaker's first delay (0.25 s here) over, the next scrape is the probe.
    wait_until(lambda: metric(client.get("/metrics").text, "friendlyhello_counter_degraded") == 0, timeout=10,
               interval=0.1, message="a scrape to find Redis back")
    assert metric(client.get("/metrics").text, "friendlyhello_redis_errors_total", operation="get") >= 1

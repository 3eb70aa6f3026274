import io

import pytest

from app import create_app
from tests.conftest import settings_for


def test_page_counts_each_visit(client, redis_server):
    for expected in (1, 2, 3):
        page = client.get("/")
        assert page.status_code == 200
        assert f"<b>Visits:</b> {expected}" in page.text
    assert int(redis_server.client().get("counter")) == 3


def test_page_shows_name_and_host(redis_server):
    import socket

    app = create_app(settings_for(redis_server, name="Docker"))
    page = app.test_client().get("/")
    assert "<h3>Hello Docker!</h3>" in page.text
    assert f"<b>Hostname:</b> {socket.gethostname()}<br/>" in page.text
    assert page.mimetype == "text/html"


@pytest.mark.parametrize("name,escaped", [
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
    ('"quoted" & amp', "&#34;quoted&#34; &amp; amp"),
])
def test_name_is_escaped(redis_server, name, escaped):
    app = create_app(settings_for(redis_server, name=name))
    page = app.test_client().get("/")
    assert f"<h3>Hello {escaped}!</h3>" in page.text
    assert name not in page.text


def test_page_degrades_when_redis_is_down(client, redis_server):
    redis_server.stop()
    page = client.get("/")
    assert page.status_code == 200
    assert "<i>cannot connect to Redis, counter disabled</i>" in page.text


def test_api_reads_without_counting_and_posts_count(client):
    assert client.get("/api/visits").json == {"visits": 0}
    assert client.post("/api/visits").json == {"visits": 1}
    assert client.post("/api/visits").json == {"visits": 2}
    assert client.get("/api/visits").json == {"visits": 2}
    client.get("/")
    assert client.get("/api/visits").json == {"visits": 3}


@pytest.mark.parametrize("method", ["get", "post"])
def test_api_is_503_json_when_redis_is_down(client, redis_server, method):
    redis_server.stop()
    response = getattr(client, method)("/api/visits")
    assert response.status_code == 503
    assert response.json["status"] == 503
    assert "Redis" in response.json["detail"]


@pytest.mark.parametrize("method,path,status", [
    ("get", "/nope", 404),
    ("get", "/api/nope", 404),
    ("delete", "/api/visits", 405),
    ("put", "/", 405),
])
def test_unknown_routes_and_methods_are_4xx(client, method, path, status):
    response = getattr(client, method)(path)
    assert response.status_code == status


def test_api_errors_are_json(client):
    response = client.delete("/api/visits")
    assert response.json == {"error": "Method Not Allowed", "status": 405,
                             "detail": response.json["detail"]}


def test_oversized_body_is_refused(client, redis_server):
    response = client.post("/api/visits", data=b"x" * (64 * 1024),
                           headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 413
    assert redis_server.client().get("counter") is None, "a refused request counts nothing"


@pytest.mark.parametrize("incoming,echoed", [
    ("abc-123", True),
    ("x" * 129, False),
    ("bad id\u00e9", False),
    ("abc\n", False),
])
def test_request_id(client, incoming, echoed):
    # Through the WSGI environ: a server other than gunicorn may pass on what a
    # client library would refuse to send (a trailing newline).
    response = client.get("/healthz", environ_base={"HTTP_X_REQUEST_ID": incoming})
    returned = response.headers["X-Request-ID"]
    assert (returned == incoming) is echoed
    assert returned


def test_forwarded_headers_are_trusted_only_when_configured(redis_server):
    def remote_of(hops):
        app = create_app(settings_for(redis_server, proxy_hops=hops))
        seen = {}

        @app.get("/whoami")
        def whoami():
            from flask import request

            seen["addr"], seen["scheme"] = request.remote_addr, request.scheme
            return ""

        app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.7",
                                                  "X-Forwarded-Proto": "https"})
        return seen["addr"], seen["scheme"]

    assert remote_of(0) == ("127.0.0.1", "http")
    assert remote_of(1) == ("203.0.113.7", "https")


def test_head_reads_the_count_without_counting_a_visit(client, redis_server):
    client.get("/")
    head = client.head("/")
    assert head.status_code == 200
    assert int(redis_server.client().get("counter")) == 1


def test_chunked_body_over_the_limit_is_refused(client):
    limit = client.application.config["MAX_CONTENT_LENGTH"]

    def post(size):
        # As gunicorn hands on a chunked body: no length, the stream terminated.
        return client.post("/api/visits", input_stream=io.BytesIO(b"x" * size),
                           headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})

    assert post(limit + 1).status_code == 413
    assert post(limit).status_code == 200

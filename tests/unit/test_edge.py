"""app/edge.py: what every answer carries, whatever route, status or type."""

import io
import json
import re
import shutil
import subprocess
import tempfile
import threading

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from app import create_app, edge
from tests.support import metric, raw_request, require_program, settings_for


def every_route(app):
    """(method, path) for each method of each route of the app's URL map."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        assert not rule.arguments, f"{rule}: build a URL for it here before it can be checked"
        for method in sorted(rule.methods):
            yield method, rule.rule


def answers(app, redis_server):
    """Each route's answer, and the error answers: 404, 405, 413, 503, 500."""
    client = app.test_client()
    found = {f"{method} {path}": client.open(path, method=method) for method, path in every_route(app)}
    found["GET /nope (404)"] = client.get("/nope")
    found["PUT / (405)"] = client.put("/")
    found["POST /api/visits (413)"] = client.post("/api/visits", data=b"x" * (app_limit(app) + 1))
    redis_server.stop()
    found["GET /api/visits (503)"] = client.get("/api/visits")

    def broken():
        raise RuntimeError("a bug")

    state = app.extensions["friendlyhello"]
    state.counter.increment = state.counter.read = broken
    found["GET / (500)"] = client.get("/")
    found["POST /api/visits (500)"] = client.post("/api/visits")
    return found


def app_limit(app):
    return app.extensions["friendlyhello"].settings.max_content_length


def test_every_answer_carries_the_fixed_headers_and_a_request_id(app, redis_server):
    found = answers(app, redis_server)
    assert {"GET /", "HEAD /", "GET /api/visits", "POST /api/visits", "GET /healthz", "GET /metrics"} <= set(found)
    assert {response.status_code for response in found.values()} >= {200, 404, 405, 413, 500, 503}
    for name, response in found.items():
        for header, value in edge.RESPONSE_HEADERS:
            assert response.headers.getlist(header) == [value], f"{name}: {header}"
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers[edge.REQUEST_ID_HEADER]), name


def test_the_fixed_headers_are_the_security_headers_asked_for():
    headers = dict(edge.RESPONSE_HEADERS)
    policy = [directive.strip() for directive in headers["Content-Security-Policy"].split(";")]
    assert policy[0] == "default-src 'none'" and "frame-ancestors 'none'" in policy
    assert not [d for d in policy if "unsafe" in d or "*" in d], policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"


def test_a_header_added_in_the_one_place_is_on_every_answer(app, redis_server, monkeypatch):
    monkeypatch.setattr(edge, "RESPONSE_HEADERS", (*edge.RESPONSE_HEADERS, ("X-Throwaway", "yes")))
    for name, response in answers(app, redis_server).items():
        assert response.headers.getlist("X-Throwaway") == ["yes"], name


def test_every_answer_gives_the_access_line_its_request_id_and_route(app, gunicorn):
    """Through the real server, whose access line adds the edge's fields."""
    server = gunicorn(WEB_CONCURRENCY="1")
    sent = [(method, path) for method, path in every_route(app)]
    sent += [("GET", "/nope"), ("PUT", "/"), ("POST", "/api/visits")]
    ids = []
    for method, path in sent:
        body = b"x" * (app_limit(app) + 1) if (method, path) == sent[-1] else None
        response = requests.request(method, server.url + path, data=body, timeout=5)
        ids.append(response.headers[edge.REQUEST_ID_HEADER])
    assert response.status_code == 413
    server.stop()
    access = {entry["request_id"]: entry for entry in server.log_entries() if entry["logger"] == "gunicorn.access"}
    routes = {rule.rule for rule in app.url_map.iter_rules()} | {edge.UNMATCHED}
    for (method, path), rid in zip(sent, ids, strict=True):
        assert rid in access, f"{method} {path}: no access line with its request id"
        assert (access[rid]["method"], access[rid]["path"]) == (method, path)
        assert access[rid]["route"] in routes
    assert [access[rid]["route"] for rid in ids[-3:]] == [edge.UNMATCHED, edge.UNMATCHED, "/api/visits"]


def test_the_page_is_html_and_everything_else_json(app, redis_server):
    for name, response in answers(app, redis_server).items():
        if name.startswith("OPTIONS "):
            assert response.data == b"" and response.headers["Allow"], name
        elif name.endswith(" /metrics"):
            assert response.mimetype == "text/plain", name
        elif name in ("GET /", "HEAD /"):
            assert response.content_type == "text/html; charset=utf-8", name
        else:
            assert response.mimetype == "application/json", name


def test_errors_share_one_body(app, redis_server):
    for name, response in answers(app, redis_server).items():
        if response.status_code >= 400:
            body = response.json
            assert list(body) == ["error", "status", "detail"], name
            assert body["status"] == response.status_code and body["error"] and body["detail"], name


def test_a_405_says_which_methods_are_allowed(client):
    assert set(client.put("/").headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize("incoming,kept", [
    ("abc-123", True),
    ("trace.9:x_y", True),
    ("x" * 129, False),
    ("bad id\u00e9", False),
    ("abc\n", False),
    ("", False),
])
@pytest.mark.parametrize("path", ["/", "/healthz"])
def test_request_id_is_kept_when_valid_else_made(client, incoming, kept, path):
    # Through the WSGI environ: a server other than gunicorn may pass on what a
    # client library would refuse to send (a trailing newline).
    returned = client.get(path, environ_base={"HTTP_X_REQUEST_ID": incoming}).headers[edge.REQUEST_ID_HEADER]
    assert (returned == incoming) is kept
    assert kept or re.fullmatch(r"[0-9a-f]{32}", returned)


def test_made_request_ids_do_not_repeat(client):
    ids = [client.get("/healthz").headers[edge.REQUEST_ID_HEADER] for _ in range(1000)]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("path", ["/", "/api/visits"])
def test_a_body_over_the_limit_is_refused_and_counts_nothing(client, redis_server, path):
    limit = app_limit(client.application)
    response = client.post(path, data=b"x" * (limit + 1), headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 413
    assert str(limit) in response.json["detail"]
    assert redis_server.client().get("counter") is None, "a refused request counts nothing"


def test_a_chunked_body_over_the_limit_is_refused(client, redis_server):
    limit = app_limit(client.application)

    def post(size):
        # As gunicorn hands on a chunked body: no length, the stream terminated.
        return client.post("/api/visits", input_stream=io.BytesIO(b"x" * size),
                           headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": None})

    assert post(limit + 1).status_code == 413
    assert post(limit).status_code == 200
    assert int(redis_server.client().get("counter")) == 1


def chunked(path: str, *chunks: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            % path.encode()) + body


def test_chunked_bodies_through_the_real_server(app, gunicorn, redis_server):
    """gunicorn hands on a chunked body as a stream: over the limit 413, at it
    200, and chunks that do not parse 400 (a client's error, not the server's)."""
    server = gunicorn(WEB_CONCURRENCY="1")
    limit = app_limit(app)
    assert raw_request(server.port, chunked("/api/visits", b"x" * 4096, b"y" * (limit - 4096 + 1))) == 413
    assert raw_request(server.port, chunked("/api/visits", b"x" * 4096, b"y" * (limit - 4096))) == 200
    assert raw_request(server.port, b"POST /api/visits HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                    b"Connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n") == 400
    assert int(redis_server.client().get("counter")) == 1
    server.stop()
    assert "unhandled error" not in server.log(), "a client's bad body is not the server's error"


def test_the_page_from_flasks_view_is_the_edges(app, redis_server):
    """GET and HEAD of the page never enter Flask (the edge answers them with
    views.page_answer); Flask's view for it, which its URL map routes, gives
    the same answer."""
    direct = app.test_client().head("/")
    with app.test_request_context("/", method="HEAD"):
        view = app.view_functions["pages.page"]()
    assert (view.status_code, view.content_type, view.get_data()) == \
        (direct.status_code, direct.content_type, app.extensions["friendlyhello"].page.body(0))
    assert int(direct.headers["Content-Length"]) == len(view.get_data())
    assert redis_server.client().get("counter") is None, "HEAD counts no visit either way"


def test_a_get_of_the_page_with_a_body_under_the_limit_is_the_page(client):
    response = client.get("/", data=b"x" * 10, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200 and b"<b>Visits:</b> 1" in response.data


def test_an_unexpected_error_is_a_logged_json_500_with_the_request_id(app, redis_server, capsys):
    def broken():
        raise RuntimeError("a bug")

    app.extensions["friendlyhello"].counter.increment = broken
    client = app.test_client()
    direct, through_flask = client.get("/"), client.post("/api/visits")
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [entry for entry in logged if entry["message"] == "unhandled error"]
    assert len(errors) == 2 and all("RuntimeError: a bug" in entry["exception"] for entry in errors)
    for response, entry in zip((direct, through_flask), errors, strict=True):
        assert response.status_code == 500
        assert response.headers[edge.REQUEST_ID_HEADER] == entry["request_id"]
        assert entry["request_id"] in response.json["detail"]
        assert "a bug" not in response.text, "the error's text stays in the log"


def test_metrics_are_labelled_by_route_template(client):
    client.get("/")
    client.head("/")
    client.post("/api/visits", data=b"x" * (app_limit(client.application) + 1))
    client.get("/nope/at/all")
    client.put("/")
    text = client.get("/metrics").text
    for labels in ({"route": "/", "method": "GET", "status": "200"}, {"route": "/", "method": "HEAD", "status": "200"},
                   {"route": "/api/visits", "method": "POST", "status": "413"},
                   {"route": "unmatched", "method": "GET", "status": "404"},
                   {"route": "unmatched", "method": "PUT", "status": "405"}):
        assert metric(text, "friendlyhello_http_requests_total", **labels) == 1, labels
        assert metric(text, "friendlyhello_http_request_duration_seconds_count", **labels) == 1, labels


def test_forwarded_headers_are_trusted_only_when_configured(redis_server):
    def remote_of(hops):
        app = create_app(settings_for(redis_server, proxy_hops=hops))
        seen = {}

        @app.get("/whoami")
        def whoami():
            from flask import request

            seen["addr"], seen["scheme"] = request.remote_addr, request.scheme
            return ""

        app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
        return seen["addr"], seen["scheme"]

    assert remote_of(0) == ("127.0.0.1", "http")
    assert remote_of(1) == ("203.0.113.7", "https")


def browser() -> str:
    """Chromium, or Google's build of it (make deps installs Chromium where neither is)."""
    return shutil.which("chromium") or shutil.which("google-chrome") or require_program("chromium")


def chromium(url: str) -> tuple[str, list[str]]:
    """The DOM headless Chromium built for URL, and what its console logged."""
    with tempfile.TemporaryDirectory() as profile:
        # No connection but to URL: Chromium's background services would try
        # the internet. --no-sandbox: the tests may run as root.
        result = subprocess.run(
            [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--log-level=0", "--dump-dom", url],
            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def serving(wsgi_app) -> tuple[str, object]:
    """WSGI_APP served on loopback from a thread: its URL, and the server to shut down."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def test_the_page_renders_in_chromium_with_nothing_refused(app):
    @app.get("/inline-style")
    def inline_style():
        return "<!doctype html><style>b { color: red }</style><b>styled</b>"

    url, server = serving(app)
    try:
        dom, console = chromium(url + "/")
        # The control: a page the policy refuses, to show a refusal is seen.
        control_dom, control_console = chromium(url + "/inline-style")
    finally:
        server.shutdown()
    assert "<h3>Hello world!</h3>" in dom and "<b>Visits:</b> 1" in dom, dom
    assert console == [], console
    assert "styled" in control_dom
    assert any("Content Security Policy" in line for line in control_console), control_console


def test_chromium_refuses_to_show_the_page_in_another_origins_frame(app):
    page_url, page_server = serving(app)
    other = Flask("another_origin")
    other.add_url_rule("/", "framing", lambda: f'<!doctype html><iframe src="{page_url}/"></iframe>')
    # Another port is another origin.
    other_url, other_server = serving(other)
    try:
        _, console = chromium(other_url + "/")
    finally:
        page_server.shutdown()
        other_server.shutdown()
    assert any("frame-ancestors 'none'" in line and "blocked" in line for line in console), console

import json
from dataclasses import replace

import pytest
from jinja2 import Environment

from app import create_app
from app.views import Page
from tests.support import Certificates, RedisServer, settings_for

TEMPLATE = Environment(autoescape=True).from_string(
    "<h3>Hello {{ name }}!</h3>{{ hostname }}: {% if visits is none %}off{% else %}{{ visits }}{% endif %}")


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


def test_page_degrades_when_redis_presents_a_certificate_it_cannot_trust(tmp_path, capsys):
    """TLS to Redis with the CA of another authority: the page still answers,
    degraded, and the log says why."""
    server = RedisServer(tmp_path, tls=Certificates(tmp_path / "tls", ["localhost"])).start()
    try:
        other_ca = Certificates(tmp_path / "other", ["localhost"]).ca
        app = create_app(replace(settings_for(server), redis_host="localhost", redis_tls=True,
                                 redis_tls_ca_file=str(other_ca)))
        page = app.test_client().get("/")
        assert page.status_code == 200
        assert "<i>cannot connect to Redis, counter disabled</i>" in page.text
        assert server.client().get("counter") is None
        entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        (failure,) = [entry for entry in entries if entry["message"] == "redis_error"]
        assert failure["level"] == "warning" and failure["operation"] == "incr"
        assert "certificate verify failed" in failure["error"], failure
    finally:
        server.stop()


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
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_head_reads_the_count_without_counting_a_visit(client, redis_server):
    client.get("/")
    head = client.head("/")
    assert head.status_code == 200
    assert int(redis_server.client().get("counter")) == 1


def test_head_answers_the_pages_headers_without_a_body(client):
    get, head = client.get("/"), client.head("/")
    assert head.data == b""
    assert int(head.headers["Content-Length"]) == len(get.data), "HEAD reads the count GET left"


@pytest.mark.parametrize("name", ["world", "<script>x</script>", 'a "b" & c', "é\u2603"])
@pytest.mark.parametrize("visits", [None, 0, 7, 10**15])
def test_page_split_around_the_count_renders_as_the_template(name, visits):
    page = Page(TEMPLATE, name, "host-1")
    assert page.body(visits) == TEMPLATE.render(name=name, hostname="host-1", visits=visits).encode()


def test_a_template_showing_the_count_twice_is_rendered_per_visit():
    template = Environment(autoescape=True).from_string("{{ visits }} and {{ visits }}")
    assert Page(template, "n", "h").body(3) == b"3 and 3"

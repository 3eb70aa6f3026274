import io
import json

import pytest
from jinja2 import Environment

from app import INTERNAL_ERROR, create_app
from tests.conftest import metric, settings_for

TEMPLATE = Environment(autoescape=True).from_string(
    "<h3>Hello {{ name }}!</h3>{{ hostname }}: {% if visits is none %}off{% else %}{{ visits }}{% endif %}")


@pytest.mark.parametrize("name", ["world", "<script>x</script>", 'a "b" & c', "é\u2603"])
@pytest.mark.parametrize("visits", [None, 0, 7, 10**15])
def test_page_split_around_the_count_renders_as_the_template(name, visits):
    from app.page import Page

    page = Page(TEMPLATE, name, "host-1")
    assert page.body(visits) == TEMPLATE.render(name=name, hostname="host-1", visits=visits).encode()


def test_a_template_showing_the_count_twice_is_rendered_per_visit():
    from app.page import Page

    template = Environment(autoescape=True).from_string("{{ visits }} and {{ visits }}")
    assert Page(template, "n", "h").body(3) == b"3 and 3"


def fast_and_flask(client, method):
    """The same request served by PageServer (no body) and by Flask (a body of
    one byte, which PageServer leaves to Flask's size check)."""
    call = getattr(client, method)
    return call("/"), call("/", data=b"x", headers={"Content-Type": "application/octet-stream"})


@pytest.mark.parametrize("method", ["get", "head"])
def test_page_server_answers_as_flask_does(client, redis_server, method):
    fast, flask = fast_and_flask(client, method)
    for response in (fast, flask):
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["X-Request-ID"]
    assert fast.headers["X-Request-ID"] != flask.headers["X-Request-ID"]
    if method == "get":
        assert fast.data.replace(b"Visits:</b> 1", b"Visits:</b> 2") == flask.data
        assert int(redis_server.client().get("counter")) == 2
    else:
        assert fast.data == flask.data == b""
        assert fast.headers["Content-Length"] == flask.headers["Content-Length"] != "0"
        assert redis_server.client().get("counter") is None, "HEAD counts no visit"


def test_page_server_echoes_a_valid_request_id_only(client):
    assert client.get("/", headers={"X-Request-ID": "trace-9"}).headers["X-Request-ID"] == "trace-9"
    generated = client.get("/", headers={"X-Request-ID": "bad id"}).headers["X-Request-ID"]
    assert generated != "bad id" and len(generated) == 32


def test_page_server_counts_and_times_each_page(client):
    for _ in range(3):
        client.get("/")
    client.head("/")
    text = client.get("/metrics").text
    assert metric(text, "friendlyhello_http_requests_total", route="/", method="GET", status="200") == 3
    assert metric(text, "friendlyhello_http_request_duration_seconds_count",
                  route="/", method="HEAD", status="200") == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_page_server_leaves_other_requests_to_flask(client, method):
    response = getattr(client, method)("/api/visits")
    assert response.status_code == 200 and "visits" in response.json


def test_an_unexpected_error_is_the_same_json_500_on_both_paths(redis_server, capsys):
    app = create_app(settings_for(redis_server))

    def broken():
        raise RuntimeError("a bug")

    app.extensions["friendlyhello"].counter.increment = broken
    client = app.test_client()
    fast, flask = fast_and_flask(client, "get")
    for response in (fast, flask):
        assert response.status_code == 500
        assert response.mimetype == "application/json"
        assert response.data == INTERNAL_ERROR
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [entry for entry in logged if entry["message"] == "unhandled error"]
    assert {entry["request_id"] for entry in errors} == {fast.headers["X-Request-ID"], flask.headers["X-Request-ID"]}
    assert all("RuntimeError: a bug" in entry["exception"] for entry in errors)


@pytest.mark.parametrize("content_length", [None, "", "0"], ids=["gunicorn-none", "empty", "zero"])
def test_the_page_skips_flask_unless_it_has_a_body(app, content_length):
    from werkzeug.test import EnvironBuilder

    seen = []
    app.before_request(lambda: seen.append(1) and None)

    def serve(method, **environ):
        built = EnvironBuilder(path="/", method=method).get_environ()
        built.update(environ)
        answers = []
        body = b"".join(app.wsgi_app(built, lambda status, headers: answers.append(status)))
        return answers[0], body

    # A request without a body, as servers say it: no length, an empty one, or 0.
    assert serve("GET", CONTENT_LENGTH=content_length)[0] == "200 OK"
    assert serve("HEAD", CONTENT_LENGTH=content_length) == ("200 OK", b"")
    assert seen == []
    serve("GET", CONTENT_LENGTH="1", **{"wsgi.input": io.BytesIO(b"x")})
    serve("GET", HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(b"")})
    assert seen == [1, 1]

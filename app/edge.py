"""The one WSGI layer every request passes, wrapped around Flask's app.

What must hold for every answer is done here, once, for every request:
  - the request id: the client's X-Request-ID when it looks like one, else a
    new one; sent back, and in every log line written for the request;
  - the body size limit, for a body with a length and a chunked one;
  - the response headers of RESPONSE_HEADERS;
  - timing and metrics, labelled by the route's template, never by the path sent;
  - the fields gunicorn's access line takes from the app (app/logs.py);
  - a JSON 500 for anything no handler expected.
Routes know nothing of it. The page, every visitor's request, is answered
here without entering Flask (DIRECT): by the same function as Flask's view
for it, and through the same start of the answer as every other route.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from flask import has_request_context, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map

from .logs import ACCESS_FIELDS, current_request_id
from .metrics import Metrics

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming request id is kept only when it looks like one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
JSON = "application/json"
UNMATCHED = "unmatched"  # the route label of a path no route matches

# Sent with every answer, whatever its route, status or type. The page has no
# script, style sheet, image or form: its policy allows nothing to load and
# no site to frame it. `no-store`: every answer is live (a count, a state).
# No X-Frame-Options: frame-ancestors replaces it in every browser with CSP
# level 2. No Cross-Origin-Resource-Policy: with nosniff, browsers already
# keep other sites' no-cors loads from reading these HTML and JSON answers.
# Each header costs gunicorn a check per answer (bench/README.md).
RESPONSE_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)
# The names of the headers the edge sets, which replace any a route set.
_FIXED_NAMES = frozenset(name.lower() for name in (REQUEST_ID_HEADER, *dict(RESPONSE_HEADERS)))


class Answer(NamedTuple):
    status: int
    content_type: str
    body: bytes


def error_answer(status: int, detail: str | None = None) -> Answer:
    """Every error's answer, from any route or from the edge itself."""
    body = {"error": HTTP_STATUS_CODES.get(status, "Unknown Error"), "status": status, "detail": detail}
    return Answer(status, JSON, json.dumps(body).encode() + b"\n")


def request_id(incoming: str | None) -> str:
    """INCOMING when it looks like a request id, else a new one (32 hex digits)."""
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    # Not secret, only unique: os.urandom without secrets' two calls around it.
    return os.urandom(16).hex()


class Edge:
    """WSGI middleware in front of FLASK_WSGI (see the module's docstring).

    DIRECT maps a path to the function that answers its GET and HEAD.
    """

    def __init__(self, flask_wsgi: Callable, url_map: Map, metrics: Metrics, logger: logging.Logger,
                 max_body: int, direct: Mapping[str, Callable[[str], Answer]]):
        self.flask_wsgi = flask_wsgi
        self.url_map = url_map
        self.metrics = metrics
        self.logger = logger
        self.max_body = max_body
        self.direct = direct

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        rid = request_id(environ.get("HTTP_X_REQUEST_ID"))
        token = current_request_id.set(rid)
        try:
            return self._serve(environ, start_response, rid, started)
        finally:
            current_request_id.reset(token)

    def _serve(self, environ: dict, start_response: Callable, rid: str, started: float) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        answered: dict = {}  # the status and route of the answer started last

        def start(status: str, headers: list, exc_info=None, route: str | None = None):
            # The last answer started counts once.
            headers += [(REQUEST_ID_HEADER, rid), *RESPONSE_HEADERS]
            answered["status"], answered["route"] = int(status[:3]), route or self.route(environ)
            environ[ACCESS_FIELDS] = {"request_id": rid, "route": answered["route"]}
            return start_response(status, headers, exc_info)

        def finish(status: str, headers: list, exc_info=None):
            """Flask's start_response: a route's own headers, less those the edge sets."""
            headers[:] = [(name, value) for name, value in headers if name.lower() not in _FIXED_NAMES]
            return start(status, headers, exc_info)

        def send(answer: Answer, route: str | None = None, exc_info=None) -> list[bytes]:
            start(f"{answer.status} {HTTP_STATUS_CODES[answer.status]}",
                  [("Content-Type", answer.content_type), ("Content-Length", str(len(answer.body)))],
                  exc_info, route)
            return [] if method == "HEAD" else [answer.body]

        try:
            try:
                too_large = self._body_too_large(environ)
            except Exception:  # the server could not read it: cut short, or malformed chunks
                return send(error_answer(400, "the request body could not be read"))
            if too_large:
                return send(error_answer(413, f"the request body is over {self.max_body} bytes"))
            path = environ.get("PATH_INFO")
            direct = self.direct.get(path) if method in ("GET", "HEAD") else None
            if direct is not None:
                return send(direct(method), route=path)
            return self.flask_wsgi(environ, finish)
        except Exception:
            self.logger.exception("unhandled error")
            # After an answer was started, with its exc_info: the server replaces
            # that answer where it has not sent it yet, and ends the connection where it has.
            return send(error_answer(500, f"an unexpected error; the server's log has it under request id {rid}"),
                        exc_info=sys.exc_info() if answered else None)
        finally:
            if answered:
                self.metrics.observe_request(answered["route"], method, answered["status"],
                                             time.perf_counter() - started)

    def route(self, environ: dict) -> str:
        """The template of the route ENVIRON's path matches, or UNMATCHED."""
        if has_request_context():  # Flask is answering, and has matched the route already
            rule = request.url_rule
        else:
            try:
                rule, _ = self.url_map.bind_to_environ(environ).match(return_rule=True)
            except HTTPException:
                rule = None
        return rule.rule if rule is not None else UNMATCHED

    def _body_too_large(self, environ: dict) -> bool:
        length = environ.get("CONTENT_LENGTH")  # gunicorn: None when the request has none
        if length:
            try:
                return int(length) > self.max_body
            except ValueError:  # not a length: Flask takes the request as having no body
                return False
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            # A chunked body states no length: read one byte past the limit to
            # decide, and hand on what was read.
            body = environ["wsgi.input"].read(self.max_body + 1)
            if len(body) > self.max_body:
                return True
            environ["wsgi.input"], environ["wsgi.input_terminated"] = io.BytesIO(body), True
        return False

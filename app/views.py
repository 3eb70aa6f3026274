"""The page and the JSON API for the visit counter."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from jinja2 import Template
from werkzeug.exceptions import HTTPException

from .counter import CounterUnavailable
from .edge import Answer, error_answer
from .state import State, current

PAGE = "/"
HTML = "text/html; charset=utf-8"
DEGRADED = "cannot connect to Redis, counter disabled"

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")

_MARK = "\x00visits\x00"


class Page:
    """templates/index.html for one name and host name.

    Rendered at start-up with a mark where the count goes, and split there:
    a visit then costs one bytes formatting. A template that does more with
    the count than print it once (tests it, formats it, shows it twice) gives
    other pages than the split would for some count: it is rendered per visit.
    """

    def __init__(self, template: Template, name: str, hostname: str):
        self._render = lambda visits: template.render(name=name, hostname=hostname, visits=visits).encode()
        self.degraded = self._render(None)
        self._around = None
        try:
            parts = template.render(name=name, hostname=hostname, visits=_MARK).split(_MARK)
        except Exception:  # the template computes with the count: a string will not do
            return
        if len(parts) == 2:
            around = (parts[0].encode(), parts[1].encode())
            if all(self._join(around, n) == self._render(n) for n in (0, 1, 2, 10, 1234567)):
                self._around = around

    @staticmethod
    def _join(around: tuple[bytes, bytes], visits: int) -> bytes:
        return b"%s%d%s" % (around[0], visits, around[1])

    def body(self, visits: int | None) -> bytes:
        """The page for a count, or the degraded page for None."""
        if visits is None:
            return self.degraded
        if self._around is None:
            return self._render(visits)
        return self._join(self._around, visits)


def page_answer(state: State, method: str) -> Answer:
    """The page, every visitor's request: a GET adds a visit; a HEAD asks for
    the page's headers, not for a visit, and reads the count. While Redis is
    away the page still answers 200 and says so. app/edge.py answers GET and
    HEAD of PAGE with this function without entering Flask."""
    try:
        visits = state.counter.read() if method == "HEAD" else state.counter.increment()
    except CounterUnavailable:
        visits = None
    return Answer(200, HTML, state.page.body(visits))


def response(answer: Answer) -> Response:
    return Response(answer.body, answer.status, content_type=answer.content_type)


@pages.get(PAGE)
def page():
    return response(page_answer(current(), request.method))


def _visits(count):
    """The JSON answer for a counter operation; 503 with an error body while Redis is away."""
    try:
        return jsonify(visits=count())
    except CounterUnavailable:
        return response(error_answer(503, DEGRADED))


@api.get("/visits")
def read_visits():
    return _visits(current().counter.read)


@api.post("/visits")
def add_visit():
    return _visits(current().counter.increment)


def http_error(error: HTTPException) -> Response:
    """Flask's answer to a routing or HTTP error (404, 405...): the error body,
    with the headers the error asks for (405's Allow)."""
    answer = response(error_answer(error.code, error.description))
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            answer.headers.add(name, value)
    return answer

"""The page: rendered once around the count, and served without Flask.

The page is every visitor's request, so it skips Flask's per-request work
(contexts, routing, hooks, a Response object): PageServer answers a GET or
HEAD of "/" that has no body straight from WSGI, with the same headers,
metrics and request id the Flask hooks give every other route. Anything else
(other paths and methods, a request with a body, which the size limit must
see) goes on to Flask, whose "/" view renders the same Page.
"""

from __future__ import annotations

import time
from typing import Callable

from jinja2 import Template

from .counter import CounterUnavailable, VisitCounter
from .jsonlog import REQUEST_ID_HEADER, request_id_from
from .metrics import Metrics

CONTENT_TYPE = "text/html; charset=utf-8"
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


def visits_for(counter: VisitCounter, method: str) -> int | None:
    """The count the page shows, None while Redis is away. A HEAD asks for the
    page's headers, not for a visit: it reads the count; a GET adds a visit."""
    try:
        return counter.read() if method == "HEAD" else counter.increment()
    except CounterUnavailable:
        return None


def has_body(environ: dict) -> bool:
    # gunicorn puts CONTENT_LENGTH=None in the environ of a request without one.
    return environ.get("CONTENT_LENGTH") not in (None, "", "0") or "HTTP_TRANSFER_ENCODING" in environ


class PageServer:
    """WSGI middleware in front of Flask's app: serves the page itself."""

    def __init__(self, flask_wsgi: Callable, page: Page, counter: VisitCounter, metrics: Metrics,
                 on_unexpected_error: Callable[[str], tuple[str, str, bytes]]):
        self.flask_wsgi = flask_wsgi
        self.page = page
        self.counter = counter
        self.observe = metrics.observe_request
        self.on_unexpected_error = on_unexpected_error

    def __call__(self, environ: dict, start_response):
        method = environ["REQUEST_METHOD"]
        if environ.get("PATH_INFO") != "/" or method not in ("GET", "HEAD") or has_body(environ):
            return self.flask_wsgi(environ, start_response)
        started = time.perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        try:
            status, content_type, body = "200 OK", CONTENT_TYPE, self.page.body(visits_for(self.counter, method))
        except Exception:
            status, content_type, body = self.on_unexpected_error(request_id)
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                (REQUEST_ID_HEADER, request_id)])
        self.observe("/", method, int(status[:3]), time.perf_counter() - started)
        return [] if method == "HEAD" else [body]

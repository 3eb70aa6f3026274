"""friendlyhello: the Docker "get started" visit counter, made fit for production."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, Response, abort, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ConfigError, Settings
from .counter import VisitCounter
from .jsonlog import REQUEST_ID_HEADER, configure_app_logger, request_id_from
from .metrics import Metrics

if TYPE_CHECKING:
    from .page import Page

__version__ = "0.1.0"

# What any route answers to an error no handler expected (as jsonify writes it).
INTERNAL_ERROR = json.dumps({"error": "Internal Server Error", "status": 500}, separators=(",", ":")).encode() + b"\n"


@dataclass
class State:
    """Everything a request needs, built once per app."""

    settings: Settings
    counter: VisitCounter
    metrics: Metrics
    page: Page
    draining: threading.Event = field(default_factory=threading.Event)


def state() -> State:
    return current_app.extensions["friendlyhello"]


_serving: State | None = None


def serving_state() -> State:
    """The State of the app this process serves (the last one create_app
    built): how gunicorn's hooks reach it, whatever middleware wraps the WSGI
    callable they are given."""
    if _serving is None:
        raise RuntimeError("create_app() has not run in this process")
    return _serving


def create_app(settings: Settings | None = None) -> Flask:
    if settings is None:
        settings = Settings.from_env()
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_content_length)
    configure_app_logger(app.logger)

    metrics = Metrics()
    counter = VisitCounter.from_settings(
        settings,
        on_error=lambda operation: metrics.redis_errors.labels(operation).inc(),
        on_value=metrics.visits_seen,
    )
    # Imported here, as the views are: gunicorn's master imports this package
    # (for its settings), and a module it holds is not reloaded by the workers.
    from . import ops, views
    from .page import Page, PageServer

    page = Page(app.jinja_env.get_template("index.html"), settings.name, socket.gethostname())
    global _serving
    _serving = app.extensions["friendlyhello"] = State(settings, counter, metrics, page)

    def unexpected_error(request_id: str) -> tuple[str, str, bytes]:
        app.logger.exception("unhandled error", extra={"fields": {"request_id": request_id}})
        return "500 INTERNAL SERVER ERROR", "application/json", INTERNAL_ERROR

    app.wsgi_app = PageServer(app.wsgi_app, page, counter, metrics, unexpected_error)
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    app.register_blueprint(views.pages)
    app.register_blueprint(views.api)
    app.register_blueprint(ops.bp)
    _install_request_hooks(app, metrics, unexpected_error)
    return app


def _install_request_hooks(app: Flask, metrics: Metrics, unexpected_error) -> None:
    @app.before_request
    def start_request() -> None:
        g.started = time.perf_counter()
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        # No route reads a body, so Flask would never check the limit itself.
        limit = app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is not None and request.content_length > limit:
            abort(413)
        # A chunked body states no length: read one byte past the limit to
        # decide (from the server's own stream: Flask's would stop at the limit).
        if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            if len(request.environ["wsgi.input"].read(limit + 1)) > limit:
                abort(413)

    @app.after_request
    def finish_request(response):
        # A request refused before start_request ran (e.g. by routing) still gets an id.
        request_id = g.get("request_id") or request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("started")
        route = request.url_rule.rule if request.url_rule else "unmatched"
        if started is not None:
            metrics.observe_request(route, request.method, response.status_code,
                                    time.perf_counter() - started)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        body = {"error": error.name, "status": error.code, "detail": error.description}
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            return jsonify(body), error.code
        return error

    @app.errorhandler(Exception)
    def any_other_error(error: Exception):
        _, content_type, body = unexpected_error(g.get("request_id") or request_id_from(None))
        return Response(body, 500, content_type=content_type)


__all__ = ["ConfigError", "Settings", "create_app", "serving_state", "__version__"]

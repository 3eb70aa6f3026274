"""friendlyhello: the Docker "get started" visit counter, made fit for production."""

from __future__ import annotations

import functools
import socket

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logs
from .config import ConfigError, Settings

__version__ = "0.2.0"


def create_app(settings: Settings | None = None) -> Flask:
    """The service for SETTINGS (read from the environment when None): Flask's
    routes inside the one layer every request passes (app/edge.py)."""
    # Imported here, not above: gunicorn's master imports this package (for
    # config.py, and logs.py as its logger), and what it holds is not reloaded
    # by the workers in the dev loop; these modules are.
    from . import ops, views
    from .counter import VisitCounter
    from .edge import Edge
    from .metrics import Metrics
    from .state import EXTENSION, State

    if settings is None:
        settings = Settings.from_env()
    app = Flask(__name__)
    # What no handler expects leaves Flask for the edge, which answers it.
    app.config["PROPAGATE_EXCEPTIONS"] = True
    logs.send_to_stdout(app.logger)
    app.logger.setLevel("INFO")

    metrics = Metrics()

    def redis_failed(operation: str, error: Exception) -> None:
        # A line per command that reached Redis and failed: the breaker lets
        # few through while Redis is away, and this line says why (refused,
        # timed out, a certificate or a password the server would not take).
        metrics.redis_error(operation)
        app.logger.warning("redis_error", extra={"fields": {"operation": operation, "error": str(error)}})

    counter = VisitCounter.from_settings(settings, on_error=redis_failed)
    page = views.Page(app.jinja_env.get_template("index.html"), settings.name, socket.gethostname())
    state = app.extensions[EXTENSION] = State(settings, counter, metrics, page)

    app.register_blueprint(views.pages)
    app.register_blueprint(views.api)
    app.register_blueprint(ops.bp)
    app.register_error_handler(HTTPException, views.http_error)
    app.wsgi_app = Edge(app.wsgi_app, app.url_map, metrics, app.logger, settings.max_content_length,
                        direct={views.PAGE: functools.partial(views.page_answer, state)})
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
    return app


__all__ = ["ConfigError", "Settings", "create_app", "__version__"]

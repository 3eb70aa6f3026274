"""JSON-lines logging on stdout for the app and for gunicorn (access and errors)."""

from __future__ import annotations

import json
import logging
import sys
import time

from flask import g, has_request_context
from gunicorn import glogging

REQUEST_ID_HEADER = "X-Request-ID"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if has_request_context() and "request_id" in g:
            entry.setdefault("request_id", g.request_id)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time of each record."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def stdout_handler() -> logging.Handler:
    handler = _StdoutHandler()
    handler.setFormatter(JsonFormatter())
    return handler


def configure_app_logger(logger: logging.Logger) -> None:
    logger.handlers[:] = [stdout_handler()]
    logger.setLevel(logging.INFO)
    logger.propagate = False


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with every line as JSON on stdout.

    The access line carries the request id from the response header, so a
    generated id and an incoming one are logged alike.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers[:] = [stdout_handler()]
            logger.propagate = False

    def access(self, resp, req, environ, request_time) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        headers = dict((name.lower(), value) for name, value in resp.headers)
        fields = {
            "request_id": headers.get(REQUEST_ID_HEADER.lower()),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING") or None,
            "status": resp.status_code,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        self.access_log.info("request", extra={"fields": fields})

"""Logging: one JSON object per line on stdout, for the app and for gunicorn.

Every line written while a request is served carries its request id (set by
app/edge.py), and gunicorn's access line carries the fields the edge gave the
request (ACCESS_FIELDS) beside what only the server knows (status, bytes sent,
time taken).

In a gunicorn worker the threads that log only put their records on a queue
(logging.handlers.QueueHandler, which formats them first); one thread per
worker writes them out (QueueListener), a write per line, so no request waits
on stdout and lines stay whole where workers share a pipe (lines of up to
PIPE_BUF bytes: 4096 on Linux). A worker writes out its queue when it exits;
one that is killed (SIGKILL) loses what it had not written yet. The master,
which forks the workers and so must not run threads, writes its own lines.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
import time
from contextvars import ContextVar

from gunicorn import glogging

# The id of the request being served in this thread (app/edge.py sets it).
current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# The environ key under which the edge leaves the access line's fields.
ACCESS_FIELDS = "friendlyhello.access_fields"


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC), level, logger, message, the
    request id where there is one, the record's `fields` and any exception."""

    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage()}
        request_id = current_request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _Stdout(logging.StreamHandler):
    """Writes to sys.stdout as it is at each record (a test may have replaced it)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def _json_to_stdout() -> logging.Handler:
    handler = _Stdout()
    handler.setFormatter(JsonFormatter())
    return handler


# The handler of every logger this module configures, in this process.
_handler: logging.Handler = _json_to_stdout()
_configured: dict[str, logging.Logger] = {}


def send_to_stdout(logger: logging.Logger) -> None:
    """LOGGER's records go out as JSON lines on stdout, and nowhere else."""
    logger.handlers[:] = [_handler]
    logger.propagate = False
    _configured[logger.name] = logger


def write_from_one_thread() -> None:
    """From now on, this process's records are queued by the threads that log
    and written by one thread, which writes out the rest when the process
    exits. For gunicorn's workers (gunicorn.conf.py's post_fork)."""
    global _handler
    records: queue.SimpleQueue = queue.SimpleQueue()
    queued = logging.handlers.QueueHandler(records)
    queued.setFormatter(JsonFormatter())
    # The records arrive formatted: the writer's default format is the message.
    listener = logging.handlers.QueueListener(records, _Stdout())
    listener.start()
    atexit.register(listener.stop)
    _handler = queued
    for logger in _configured.values():
        send_to_stdout(logger)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger (logger_class), its error and access lines as JSON."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        send_to_stdout(self.error_log)
        send_to_stdout(self.access_log)

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        # gunicorn's own error replies (400, 431...) carry only a status line.
        status = getattr(resp, "status_code", None) or int(str(resp.status).split(None, 1)[0])
        fields = {"request_id": None, **environ.get(ACCESS_FIELDS, {}),
                  "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"),
                  "query": environ.get("QUERY_STRING") or None, "status": status,
                  "bytes": getattr(resp, "sent", None),
                  "duration_ms": round(request_time.total_seconds() * 1000, 3),
                  "remote_addr": environ.get("REMOTE_ADDR"), "user_agent": environ.get("HTTP_USER_AGENT")}
        self.access_log.info("request", extra={"fields": fields})

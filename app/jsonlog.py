"""JSON-lines logging on stdout for the app and for gunicorn (access and errors).

The access log is on every request's path, so its lines skip the logging
module: each is formatted directly and queued, and a thread of each worker
writes the queue out every ACCESS_FLUSH_SECONDS in writes of whole lines of at
most PIPE_BUF bytes, which the kernel keeps whole when several workers share
one pipe (a single line longer than that, from a very long URL or User-Agent,
is written alone and can be split, as any write of its size). A worker that
exits flushes first; one that is killed (SIGKILL) loses at most what it queued
in the last ACCESS_FLUSH_SECONDS. Access lines may thus come up to that much
later than app and error lines written meanwhile; each carries its time.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import re
import select
import sys
import threading
import time

from flask import g, has_request_context
from gunicorn import glogging

from .periodic import Periodic

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower()  # response headers as gunicorn holds them: any case
ACCESS_FLUSH_SECONDS = 0.1
# Past this many queued lines (stdout is slow or blocked) the request thread
# writes them itself: back-pressure as with a direct write, and bounded memory.
ACCESS_QUEUE_LIMIT = 10000

# An incoming request id is echoed and logged only when it looks like one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class _RequestIds:
    """Unique ids without a syscall per request: 64 random bits per process,
    then a counter. Forked processes draw their own bits."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._sequence = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._sequence):016x}"


_request_ids = _RequestIds()


def request_id_from(incoming: str | None) -> str:
    """The request id to answer and log with: the client's when it looks like
    one, else a new one (32 hex digits)."""
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return _request_ids.new()


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


class LineQueue:
    """Lines queued by any thread, written to stdout in bulk by one thread."""

    def __init__(self, interval: float = ACCESS_FLUSH_SECONDS):
        self._lines: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()  # one writer at a time: the thread, or a final flush
        self._writer = Periodic("access-log", interval, self.flush)
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lines.clear()  # the parent's lines are the parent's to write
        self._lock = threading.Lock()

    def put(self, line: str) -> None:
        self._lines.append(line)  # deque.append is atomic: no lock on the request path
        self._writer.ensure_running()
        if len(self._lines) > ACCESS_QUEUE_LIMIT:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            chunk, size = [], 0
            while self._lines:
                line = (self._lines.popleft() + "\n").encode()
                if chunk and size + len(line) > select.PIPE_BUF:
                    self._write(b"".join(chunk))
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line)
            if chunk:
                self._write(b"".join(chunk))

    @staticmethod
    def _write(data: bytes) -> None:
        stream = sys.stdout
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # a stream in memory (tests)
            stream.write(data.decode())
            stream.flush()
            return
        while data:
            data = data[os.write(fd, data):]


_access_lines = LineQueue()  # written out by its thread, and at exit


def flush_access_log() -> None:
    """Writes out the access lines this process has queued."""
    _access_lines.flush()
_escape = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept as json.dumps does here


def _string(value: str | None) -> str:
    return "null" if value is None else _escape(value)


class _Clock:
    """The log's timestamp, formatted once per second rather than per line."""

    def __init__(self) -> None:
        self._second = (-1, "")  # one tuple, replaced whole: threads never see a mix

    def now(self) -> str:
        now = time.time()
        second, text = self._second
        if int(now) != second:
            second = int(now)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{int((now - second) * 1000):03d}Z"


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with every line as JSON on stdout.

    The access line carries the request id from the response header, so a
    generated id and an incoming one are logged alike. Its fields and their
    order are those JsonFormatter gives a record with the same fields.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers[:] = [stdout_handler()]
            logger.propagate = False
        self._clock = _Clock()

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        try:
            self._access(resp, environ, request_time)
        except Exception:
            self.exception("access log: cannot log a request")

    def _access(self, resp, environ, request_time) -> None:
        # gunicorn's own error replies (400, 431...) carry only the status line.
        status = getattr(resp, "status_code", None) or int(str(resp.status).split(None, 1)[0])
        request_id = None
        for name, value in resp.headers:
            if len(name) == len(_REQUEST_ID_KEY) and name.lower() == _REQUEST_ID_KEY:
                request_id = value
        sent = getattr(resp, "sent", None)
        _access_lines.put(
            f'{{"time": "{self._clock.now()}", "level": "info", "logger": "gunicorn.access", '
            f'"message": "request", "request_id": {_string(request_id)}, '
            f'"method": {_string(environ.get("REQUEST_METHOD"))}, "path": {_string(environ.get("PATH_INFO"))}, '
            f'"query": {_string(environ.get("QUERY_STRING") or None)}, "status": {int(status)}, '
            f'"bytes": {"null" if sent is None else int(sent)}, '
            f'"duration_ms": {round(request_time.total_seconds() * 1000, 3)!r}, '
            f'"remote_addr": {_string(environ.get("REMOTE_ADDR"))}, '
            f'"user_agent": {_string(environ.get("HTTP_USER_AGENT"))}}}')

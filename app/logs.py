"""Logging: one JSON object per line on stdout, for the app and for gunicorn.

Every line written while a request is served carries its request id (set by
app/edge.py), and gunicorn's access line carries the fields the edge gave the
request (ACCESS_FIELDS) beside what only the server knows (status, bytes sent,
time taken).

In a gunicorn worker the threads that log only put their records on a queue
(logging.handlers.QueueHandler, which formats them first); one thread per
worker writes them out (QueueListener), a write per line, so no request waits
on stdout and lines stay whole where workers share a pipe (lines of up to
PIPE_BUF bytes: 4096 on Linux). Past QUEUE_LIMIT records waiting (stdout slow
or blocked) a thread that logs writes its line itself: back-pressure, and
bounded memory. A worker writes out its queue when it exits; one that is
killed (SIGKILL) loses what it had not written yet. The master, which forks
the workers and so must not run threads, writes its own lines.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson
from gunicorn import glogging

# The JSON lines carry no thread, process or task names: not worth their cost per record.
logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
logging.logAsyncioTasks = False

# The id of the request being served in this thread (app/edge.py sets it).
current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# The environ key under which the edge leaves the access line's fields.
ACCESS_FIELDS = "friendlyhello.access_fields"
QUEUE_LIMIT = 10000


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (RFC 3339 in UTC, with microseconds
    unless they are 0), level, logger, message, the request id where there is
    one, the record's `fields` and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        # A datetime, written by orjson: under half the time of formatTime's strftime.
        entry = {"time": datetime.fromtimestamp(record.created, UTC), "level": record.levelname.lower(),
                 "logger": record.name, "message": record.getMessage()}
        request_id = current_request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # orjson: a line's JSON in a tenth of the standard library's time.
        try:
            return orjson.dumps(entry, option=orjson.OPT_UTC_Z).decode()
        except TypeError:
            # A value orjson does not write (a key other than a string, an int
            # past 64 bits, a set): the line goes out all the same, with json.
            return json.dumps(entry, ensure_ascii=False, default=_as_text, skipkeys=True)


def _as_text(value) -> str:
    """What json cannot write, as text: a datetime as orjson writes it."""
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else str(value)


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


class _AsQueued(logging.Formatter):
    """The writer's formatter: a queued record's message is its line already."""

    def format(self, record: logging.LogRecord) -> str:
        return record.msg


class _BoundedQueueHandler(logging.handlers.QueueHandler):
    """Queues a record for the writer thread; with QUEUE_LIMIT of them waiting,
    writes it through WRITER in the caller's thread instead."""

    def __init__(self, records: queue.SimpleQueue, writer: logging.Handler):
        super().__init__(records)
        self.writer = writer

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # As QueueHandler.prepare, the record's message becomes its JSON line,
        # without the copy it makes for other handlers: these loggers have none.
        record.msg = record.message = self.format(record)
        record.args = record.exc_info = record.exc_text = record.stack_info = None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.writer.handle(record)
        else:
            self.queue.put_nowait(record)


# The handler of every logger this module configures, in this process.
_direct = _json_to_stdout()
_handler: logging.Handler = _direct
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
    # sys.stdout as it is now: a worker's is never replaced.
    writer = logging.StreamHandler(sys.stdout)
    writer.setFormatter(_AsQueued())
    queued = _BoundedQueueHandler(records, writer)
    queued.setFormatter(JsonFormatter())
    listener = logging.handlers.QueueListener(records, writer)
    listener.start()

    def stop() -> None:
        """Writes out the queue; what is logged after goes straight to stdout."""
        global _handler
        listener.stop()
        _handler = _direct
        for logger in _configured.values():
            send_to_stdout(logger)

    atexit.register(stop)
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
        try:
            self._access(resp, environ, request_time)
        except Exception:  # as gunicorn's own access(): a line lost is no reason to fail the request
            self.error(traceback.format_exc())

    def _access(self, resp, environ, request_time) -> None:
        # gunicorn's own error replies (400, 431...) carry only a status line,
        # and never passed the edge: no request id, no route.
        status = getattr(resp, "status_code", None) or int(str(resp.status).split(None, 1)[0])
        fields = {"request_id": None, "route": None, **environ.get(ACCESS_FIELDS, {}),
                  "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"),
                  "query": environ.get("QUERY_STRING") or None, "status": status,
                  "bytes": getattr(resp, "sent", None),
                  "duration_ms": round(request_time.total_seconds() * 1000, 3),
                  "remote_addr": environ.get("REMOTE_ADDR"), "user_agent": environ.get("HTTP_USER_AGENT")}
        # A record made and handled as Logger.info would, less the search of
        # the stack for the caller's file and line (not in the JSON line) and
        # the checks of `extra` against the record's own attributes.
        if self.access_log.isEnabledFor(logging.INFO):
            record = self.access_log.makeRecord(self.access_log.name, logging.INFO, "", 0, "request", None, None)
            record.fields = fields
            self.access_log.handle(record)

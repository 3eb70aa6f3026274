import datetime
import json
import logging
import os
import re
import select

import pytest

from app.jsonlog import JsonFormatter


def test_record_becomes_one_json_line():
    record = logging.LogRecord("app", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.fields = {"status": 503}
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "hello world"
    assert entry["level"] == "warning"
    assert entry["status"] == 503
    assert entry["time"].endswith("Z")


def test_app_log_carries_the_request_id(app, capsys):
    with app.test_request_context("/", headers={"X-Request-ID": "req-7"}):
        app.preprocess_request()
        app.logger.info("inside a request")
    entry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert entry == {**entry, "message": "inside a request", "request_id": "req-7", "logger": "app"}


def test_exceptions_are_logged_on_one_line():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exception"]


def gunicorn_logger():
    from gunicorn.config import Config

    from app.jsonlog import GunicornLogger

    config = Config()
    config.set("accesslog", "-")
    return GunicornLogger(config)


class _Response:
    """What gunicorn hands its access logger: status, headers, bytes sent."""

    def __init__(self, status_code, headers, sent):
        self.status_code, self.headers, self.sent = status_code, headers, sent


@pytest.mark.parametrize("path,query,agent", [
    ("/", "", "wrk"),
    ('/a"b\\c', "x=1&y=\u00e9", None),
    ("/\u2603\x01\t", "", 'quote " and backslash \\'),
])
def test_access_line_is_what_the_json_formatter_writes(capsys, path, query, agent):
    from app.jsonlog import JsonFormatter, flush_access_log

    logger = gunicorn_logger()
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "REMOTE_ADDR": "10.0.0.1"}
    if agent is not None:
        environ["HTTP_USER_AGENT"] = agent
    logger.access(_Response(200, [("Content-Type", "text/html"), ("X-Request-ID", "rid-1")], 123), None,
                  environ, datetime.timedelta(microseconds=1534))
    flush_access_log()
    line = capsys.readouterr().out.strip()

    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "request", (), None)
    record.fields = {"request_id": "rid-1", "method": "GET", "path": path, "query": query or None, "status": 200,
                     "bytes": 123, "duration_ms": 1.534, "remote_addr": "10.0.0.1", "user_agent": agent}
    expected = json.loads(JsonFormatter().format(record))
    entry = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert list(entry) == list(expected)
    assert {**entry, "time": None} == {**expected, "time": None}


def test_queued_lines_are_written_whole_in_writes_of_at_most_pipe_buf(monkeypatch):
    from app.jsonlog import LineQueue

    writes = []
    monkeypatch.setattr(LineQueue, "_write", staticmethod(writes.append))
    queue = LineQueue()
    lines = [f"line {number} " + "x" * (number * 37 % 900) for number in range(200)] + ["y" * 5000]
    for line in lines:
        queue.put(line)
    queue.flush()
    assert b"".join(writes).decode().splitlines() == lines
    assert all(chunk.endswith(b"\n") for chunk in writes)
    assert all(len(chunk) <= select.PIPE_BUF for chunk in writes if chunk.count(b"\n") > 1)
    # In bulk: a write ends only when the next line (here under 1000 bytes) would not fit.
    assert all(len(chunk) > select.PIPE_BUF - 1000 for chunk in writes[:-2])
    assert writes[-1] == b"y" * 5000 + b"\n", "a line longer than PIPE_BUF goes out alone"


def test_request_ids_are_unique_and_differ_after_fork():
    from app.jsonlog import request_id_from

    ids = {request_id_from(None) for _ in range(10000)}
    assert len(ids) == 10000 and all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, request_id_from(None).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    parent = request_id_from(None)
    assert child[:16] != parent[:16], "a forked worker draws its own prefix"

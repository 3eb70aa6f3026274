import datetime
import json
import logging
import os
import re
import subprocess
import sys
import textwrap

import pytest

from app import logs
from app.logs import ACCESS_FIELDS, JsonFormatter, current_request_id
from tests.support import ROOT


def record(message="hello %s", args=("world",), exc_info=None, **fields):
    entry = logging.LogRecord("app", logging.WARNING, __file__, 1, message, args, exc_info)
    if fields:
        entry.fields = fields
    return entry


def test_a_record_is_one_json_line():
    line = JsonFormatter().format(record(status=503))
    entry = json.loads(line)
    assert "\n" not in line
    assert entry == {"time": entry["time"], "level": "warning", "logger": "app", "message": "hello world",
                     "status": 503}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", entry["time"])


def test_the_time_is_utc():
    entry = record()
    entry.created = datetime.datetime(2026, 7, 1, 12, 30, 5, 250001, tzinfo=datetime.UTC).timestamp()
    assert json.loads(JsonFormatter().format(entry))["time"] == "2026-07-01T12:30:05.250001Z"
    # A fraction of zero is left out (RFC 3339 makes it optional).
    entry.created = datetime.datetime(2026, 7, 1, 12, 30, 5, tzinfo=datetime.UTC).timestamp()
    assert json.loads(JsonFormatter().format(entry))["time"] == "2026-07-01T12:30:05Z"


def test_values_orjson_does_not_write_still_make_a_line():
    entry = record(big=2**70, kinds={"a"}, **{"nested": {7: "an int key"}})
    entry.created = datetime.datetime(2026, 7, 1, 12, 30, 5, 250001, tzinfo=datetime.UTC).timestamp()
    line = JsonFormatter().format(entry)
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-07-01T12:30:05.250001Z", "level": "warning", "logger": "app", "message": "hello world",
        "big": 2**70, "kinds": "{'a'}", "nested": {"7": "an int key"}}


def test_exceptions_are_logged_on_one_line():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        line = JsonFormatter().format(record("failed", (), sys.exc_info()))
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exception"]


def test_a_record_written_while_serving_a_request_carries_its_id():
    token = current_request_id.set("req-7")
    try:
        inside = json.loads(JsonFormatter().format(record()))
    finally:
        current_request_id.reset(token)
    assert inside["request_id"] == "req-7"
    assert "request_id" not in json.loads(JsonFormatter().format(record()))


def test_app_log_lines_carry_the_request_id(app, capsys):
    @app.get("/logs-a-line")
    def logs_a_line():
        app.logger.info("inside a request")
        return ""

    response = app.test_client().get("/logs-a-line", headers={"X-Request-ID": "req-8"})
    assert response.status_code == 200
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {**entries[-1], "time": None} == {"time": None, "level": "info", "logger": "app",
                                             "message": "inside a request", "request_id": "req-8"}


class _Response:
    """What gunicorn hands its access logger: status, headers, bytes sent."""

    def __init__(self, status_code, sent):
        self.status_code, self.sent = status_code, sent


@pytest.mark.parametrize("path,query,agent", [
    ("/", "", "wrk"),
    ('/a"b\\c', "x=1&y=\u00e9", None),
    ("/\u2603\x01\t", "", 'quote " and backslash \\'),
])
def test_the_access_line_has_the_edges_fields_and_the_servers(capsys, path, query, agent):
    from gunicorn.config import Config

    from app.logs import GunicornLogger

    config = Config()
    config.set("accesslog", "-")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "REMOTE_ADDR": "10.0.0.1",
               ACCESS_FIELDS: {"request_id": "rid-1", "route": "/"}}
    if agent is not None:
        environ["HTTP_USER_AGENT"] = agent
    GunicornLogger(config).access(_Response(200, 123), None, environ, datetime.timedelta(microseconds=1534))
    entry = json.loads(capsys.readouterr().out)
    assert entry == {"time": entry["time"], "level": "info", "logger": "gunicorn.access", "message": "request",
                     "request_id": "rid-1", "route": "/", "method": "GET", "path": path, "query": query or None,
                     "status": 200, "bytes": 123, "duration_ms": 1.534, "remote_addr": "10.0.0.1",
                     "user_agent": agent}


# A process that logs from several threads through the writer thread, as a
# gunicorn worker does, then exits without flushing anything itself.
WRITER = textwrap.dedent("""
    import logging, sys, threading
    from app import logs
    logger = logging.getLogger("writer-test")
    logger.setLevel(logging.INFO)
    logs.send_to_stdout(logger)
    logs.write_from_one_thread()
    name, count, size, logs.QUEUE_LIMIT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    def write(thread):
        for number in range(count):
            logger.info("line", extra={"fields": {"writer": name, "thread": thread, "n": number, "pad": "x" * size}})
    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads: thread.start()
    for thread in threads: thread.join()
""")


@pytest.mark.parametrize("queue_limit", [logs.QUEUE_LIMIT, 0], ids=["queued", "queue-full"])
def test_lines_are_whole_and_all_written_when_processes_share_a_pipe(queue_limit):
    """Four processes of four threads each on one pipe (as gunicorn's workers
    share the container's stdout): every line arrives whole, none is lost,
    each thread's in order, though no process flushed before it exited; also
    when the queue is full and the threads write their lines themselves."""
    count, size = 2000, 3000  # lines of about 3.1 kB: under PIPE_BUF, so each write is atomic
    read_end, write_end = os.pipe()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, f"w{n}", str(count), str(size), str(queue_limit)],
                                cwd=ROOT, stdout=write_end) for n in range(4)]
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        lines = pipe.read().decode().splitlines()  # until every writer has exited
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0, 0, 0]
    entries = [json.loads(line) for line in lines]  # a torn line would not parse
    assert len(entries) == 4 * 4 * count
    for writer in range(4):
        for thread in range(4):
            numbers = [e["n"] for e in entries if e["writer"] == f"w{writer}" and e["thread"] == thread]
            assert numbers == list(range(count))

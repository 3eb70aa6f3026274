import json
import logging

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

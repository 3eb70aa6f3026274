"""Shared fixtures: real servers started per test and stopped after.

A test whose prerequisite (a program, a Docker engine, a cluster) is missing
is skipped on a workstation but fails with the reason under CI=true, so CI
can never pass by skipping.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
# What the page shows, as the tests read it.
VISITS = re.compile(r"<b>Visits:</b> (\d+)")
HOSTNAME = re.compile(r"<b>Hostname:</b> ([^<]+)<br/>")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_prerequisite(reason: str):
    """Skip locally; fail loudly in CI, where every test must run."""
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_prerequisite(f"{name} is not installed (.ci/run installs it)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.02, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def metric(text: str, name: str, **labels) -> float:
    """The value of one series in a Prometheus exposition TEXT."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    series = f"{name}{{{wanted}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in metrics:\n{text}")


def visit_count(url: str) -> int | None:
    """The count a visit to URL's page shows; None while it does not answer with one."""
    import requests

    try:
        page = requests.get(url + "/", timeout=5)
    except requests.RequestException:
        return None
    found = VISITS.search(page.text) if page.status_code == 200 else None
    return int(found.group(1)) if found else None


class RedisServer:
    """A real redis-server on a free loopback port, which a test may stop and restart."""

    def __init__(self, workdir: Path, password: str | None = None):
        self.binary = require_program("redis-server")
        self.port = free_port()
        self.password = password
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=10, message=f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        """Stops the process without closing its socket: connections are still
        accepted by the kernel, and every command waits (a hung or partitioned
        Redis, unlike a stopped one, which refuses at once)."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password,
                           socket_timeout=5)

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def settings_for(server: RedisServer, **overrides):
    """The app's Settings for SERVER (a real redis-server), with OVERRIDES."""
    from app.config import Settings

    return Settings(redis_host="127.0.0.1", redis_port=server.port, **overrides)


@pytest.fixture
def settings(redis_server):
    return settings_for(redis_server)


@pytest.fixture
def app(settings):
    from app import create_app

    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


class Gunicorn:
    """The real server: `gunicorn -c gunicorn.conf.py`, as the image runs it."""

    def __init__(self, env: dict[str, str], log_path: Path, cwd: Path = ROOT):
        self.cwd = cwd
        self.port = free_port()
        self.env = {**os.environ, **env, "PORT": str(self.port)}
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        import requests

        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited {self.process.returncode}:\n{self.log()}")
            try:
                return requests.get(self.url + "/readyz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout=20, interval=0.05, message="gunicorn to serve /readyz")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_entries(self) -> list[dict]:
        """The JSON lines of the log."""
        import json

        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def stop(self) -> int:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)
        self._log.close()
        return self.process.returncode


@pytest.fixture
def gunicorn(tmp_path, redis_server):
    """Factory: start gunicorn against the test's Redis with extra environment."""
    servers = []

    def start(cwd: Path = ROOT, **env: str) -> Gunicorn:
        base = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port),
                "SHUTDOWN_DELAY": "0", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
        server = Gunicorn({**base, **env}, tmp_path / f"gunicorn-{len(servers)}.log", cwd).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()

"""Fixtures: real servers started per test and stopped after (tests/support.py
has what they start). Each folder of tests/ is a suite, and its tests carry
the folder's marker (unit, static, image, cluster) for selecting by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ROOT, Gunicorn, RedisServer, settings_for

SUITES = ("unit", "static", "image", "cluster")


def pytest_collection_modifyitems(items):
    for item in items:
        suite = item.path.relative_to(ROOT / "tests").parts[0]
        assert suite in SUITES, f"{item.nodeid}: every test lives in a suite's folder ({', '.join(SUITES)})"
        item.add_marker(suite)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


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

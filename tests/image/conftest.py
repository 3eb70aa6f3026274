"""Fixtures for the image tests: the Docker engine, the built image, containers."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
import requests

from tests.conftest import ROOT, missing_prerequisite, require_program, wait_until


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                          timeout=timeout)


def shell_value(script: str, *args: str) -> str:
    """The last stdout line of a hack/ script (its result), failing with its log."""
    result = subprocess.run([str(ROOT / script), *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=1800)
    if result.returncode != 0:
        raise AssertionError(f"{script} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def docker_engine():
    require_program("docker")
    if docker("info", check=False, timeout=30).returncode != 0:
        missing_prerequisite("no Docker engine answers (make engine starts one)")


@pytest.fixture(scope="session")
def image(docker_engine) -> str:
    return shell_value("hack/image.sh")


@pytest.fixture(scope="session")
def redis_image(docker_engine) -> str:
    return shell_value("hack/redis-image.sh")


@pytest.fixture
def network(docker_engine):
    """A network of its own for the test, always removed after it: each one
    left behind takes one of the engine's thirty-odd address pools. Its
    containers go first, since a test that asks for run_container before
    this fixture has its containers torn down after the network."""
    name = f"fh-test-{uuid.uuid4().hex[:8]}"
    docker("network", "create", name)
    yield name
    containers = "{{range $id, $c := .Containers}}{{$id}} {{end}}"
    attached = docker("network", "inspect", "-f", containers, name).stdout.split()
    if attached:
        docker("rm", "-f", "-v", *attached)
    docker("network", "rm", name)


class Container:
    def __init__(self, container_id: str):
        self.id = container_id

    def inspect(self) -> dict:
        return json.loads(docker("inspect", self.id).stdout)[0]

    def url(self, port: int = 8080) -> str:
        host_port = docker("port", self.id, f"{port}/tcp").stdout.splitlines()[0].rsplit(":", 1)[1]
        return f"http://127.0.0.1:{host_port}"

    def logs(self) -> str:
        result = docker("logs", self.id, check=False)
        return result.stdout + result.stderr

    def wait_serving(self, timeout: float = 30) -> str:
        url = self.url()

        def serving():
            if not self.inspect()["State"]["Running"]:
                raise AssertionError(f"container exited:\n{self.logs()}")
            try:
                return requests.get(url + "/healthz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(serving, timeout=timeout, interval=0.2, message="the container to serve")
        return url


@pytest.fixture
def run_container(docker_engine):
    """Factory: `docker run -d` with the given arguments; removed after the test."""
    started = []

    def run(*args: str) -> Container:
        container = Container(docker("run", "-d", *args).stdout.strip())
        started.append(container)
        return container

    yield run
    for container in started:
        docker("rm", "-f", "-v", container.id, check=False)


def wait_redis(container: Container, timeout: float = 30) -> None:
    def answers():
        return docker("exec", container.id, "redis-cli", "ping", check=False).stdout.strip() == "PONG"

    wait_until(answers, timeout=timeout, interval=0.2, message="redis to answer PING")


def elapsed(since: float) -> float:
    return time.monotonic() - since

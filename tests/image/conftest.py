"""Fixtures for the image tests: the Docker engine, the built images, a
network and containers, each removed after the test (tests/image/containers.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.image.containers import Container, script_result
from tests.support import docker, docker_answers, missing_prerequisite


@pytest.fixture(scope="session")
def docker_engine():
    if not docker_answers():
        missing_prerequisite("no Docker engine answers (make engine starts one)")


@pytest.fixture(scope="session")
def image(docker_engine) -> str:
    return script_result("hack/image.sh")


@pytest.fixture(scope="session")
def redis_image(docker_engine) -> str:
    return script_result("hack/resolve-image.sh", "redis")


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

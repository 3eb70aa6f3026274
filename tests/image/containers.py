"""What the image tests share: a running container, the result of a hack/
script, and waits."""

from __future__ import annotations

import json
import time

import requests

from tests.support import ROOT, docker, run, wait_until


def script_result(script: str, *args: str) -> str:
    """The last stdout line of a hack/ script (its result), failing with its log."""
    result = run(str(ROOT / script), *args, timeout=1800, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{script} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


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


def wait_redis(container: Container, timeout: float = 30) -> None:
    def answers():
        return docker("exec", container.id, "redis-cli", "ping", check=False).stdout.strip() == "PONG"

    wait_until(answers, timeout=timeout, interval=0.2, message="redis to answer PING")


def elapsed(since: float) -> float:
    return time.monotonic() - since

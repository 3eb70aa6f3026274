"""compose.yaml: the stack comes up, counts, and keeps its count across a Redis restart."""

import os
import subprocess
import uuid

import pytest

from tests.support import PINNED, ROOT, free_ports, tool, visit_count, wait_until


def test_compose_defaults_match_the_pinned_versions():
    text = (ROOT / "compose.yaml").read_text()
    pinned = PINNED
    assert f"${{REDIS_IMAGE:-{pinned['REDIS_IMAGE']}}}" in text
    assert f"${{BASE_IMAGE:-{pinned['BASE_IMAGE']}}}" in text


@pytest.fixture
def stack(image, redis_image):
    # The project's own compose (make tool-docker-compose), not a plugin in ~/.docker.
    binary = tool("docker-compose")
    port = free_ports(2)  # one host port per web replica
    project = f"fh-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "WEB_IMAGE": image, "REDIS_IMAGE": redis_image,
           "WEB_PORTS": f"{port}-{port + 1}"}
    compose = [str(binary), "--project-name", project, "--file", str(ROOT / "compose.yaml")]

    def run(*args, check=True):
        return subprocess.run([*compose, *args], env=env, capture_output=True, text=True,
                              check=check, timeout=300)

    try:
        run("up", "--detach", "--no-build", "--wait", "--wait-timeout", "120")
        yield run, port
    except subprocess.CalledProcessError as error:
        raise AssertionError(f"compose failed: {error.stderr}\n{run('logs', check=False).stdout}") from None
    finally:
        down = run("down", "--volumes", "--timeout", "20", check=False)
    # A project left behind keeps its network, and with it one of the engine's address pools.
    assert down.returncode == 0, f"compose down failed: {down.stderr}"


def test_stack_counts_and_survives_a_redis_restart(stack):
    run, first_port = stack
    published = run("ps", "--format", "{{.Service}} {{.Publishers}}").stdout
    assert published.count("web") == 2, published
    counts = [visit_count(f"http://127.0.0.1:{first_port + i % 2}") for i in range(10)]
    assert counts == list(range(1, 11)), "both replicas share one counter"
    run("restart", "redis")
    # everysec AOF: the restart is a clean shutdown, which writes the file first.
    after = wait_until(lambda: visit_count(f"http://127.0.0.1:{first_port}"), timeout=30, interval=0.5,
                       message="the counter after the Redis restart")
    assert after == 11


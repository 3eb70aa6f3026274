"""The path users with a registry take, proved on a real one: CNCF Distribution's
registry (built by hack/tools.sh from its module) on 127.0.0.1, holding the
images this machine uses under test names. Each decision the scripts make is
checked from what they print and from what they left behind: an image pulled
means no local build (the node's build cache untouched, no stand-in built); a
missing tag stops at once with the registry's words; only an unreachable
registry takes the air-gap path, and says so in one line."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from tests import support
from tests.support import ROOT, STANDINS, free_port, missing_prerequisite, run, tool, wait_until

# How long a pull that must fail may take before the script gives up on it.
QUICK_FAILURE_SECONDS = 30


def script(*command: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """A project command with the given overrides, as a user would type it (AIRGAP unset)."""
    return run(*command, env={"AIRGAP": "", **(env or {})}, timeout=timeout, check=False)


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return support.docker(*args, check=check, timeout=900)


class Registry:
    """A CNCF Distribution registry on a free loopback port, with its request log."""

    def __init__(self, workdir: Path):
        binary = tool("registry")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        config = workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: info, accesslog: {disabled: false}}\n"
            f"storage: {{filesystem: {{rootdirectory: {workdir / 'data'}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: '{self.host}', secret: friendlyhello-test}}\n")
        self.log_path = workdir / "registry.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([str(binary), "serve", str(config)], stdout=self._log,
                                        stderr=subprocess.STDOUT,
                                        env={**os.environ, "OTEL_TRACES_EXPORTER": "none"})

        def answers():
            if self.process.poll() is not None:
                raise AssertionError(f"registry exited:\n{self.log()}")
            try:
                return requests.get(f"http://{self.host}/v2/", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(answers, timeout=30, interval=0.2, message=f"the registry on {self.host}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def push(self, source: str, name: str) -> str:
        """Pushes SOURCE as NAME; returns NAME@digest, with no local reference left to it."""
        tagged = f"{self.host}/{name}"
        docker("tag", source, tagged)
        docker("push", "--quiet", tagged)
        digests = docker("image", "inspect", "-f", "{{range .RepoDigests}}{{println .}}{{end}}", tagged).stdout
        (digest,) = [d.split("@", 1)[1] for d in digests.split() if d.startswith(f"{self.host}/")]
        # The next use must come from the registry, not from this machine.
        pinned = f"{tagged.rsplit(':', 1)[0]}@{digest}"
        docker("rmi", tagged)
        docker("rmi", pinned, check=False)
        assert docker("image", "inspect", f"{tagged}@{digest}", check=False).returncode != 0
        return f"{tagged}@{digest}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._log.close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if docker("info", check=False).returncode != 0:
        missing_prerequisite("no Docker engine answers (make engine)")
    server = Registry(tmp_path_factory.mktemp("registry"))
    yield server
    server.stop()


def resolved(kind: str) -> str:
    """The image this machine uses for KIND (node, base, redis): pulled where a
    registry answers, the stand-in where none does; pushed to the test registry."""
    result = script("hack/resolve-image.sh", kind, timeout=3600)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def decisions(stderr: str) -> list[str]:
    """The lines that say where an image came from."""
    return [line for line in stderr.splitlines() if "pulled " in line or "stand-in" in line]


def test_make_cluster_pulls_the_node_image_and_builds_nothing(registry, tmp_path):
    node = registry.push(resolved("node"), "friendlyhello-test/kindest-node:v-test")
    pushed = len(registry.log())
    node_cache = tmp_path / "node-cache"
    cluster = f"fh-registry-{uuid.uuid4().hex[:6]}"
    # One node: a second cluster of three beside the suite's own is more than
    # two cores start in kubeadm's time, and the path under test is the image's.
    project_config = yaml.safe_load((ROOT / "k8s/kind-cluster.yaml").read_text())
    config = tmp_path / "one-node.yaml"
    config.write_text(yaml.safe_dump({**project_config, "nodes": [{"role": "control-plane"}]}))
    # kind makes a new cluster the kubeconfig's current context, and deleting
    # it leaves none: the suite's own cluster is made current again after.
    previous = script("kubectl", "config", "current-context").stdout.strip()
    try:
        result = script("make", "cluster", f"KIND_NODE_IMAGE={node}", f"CLUSTER_NAME={cluster}",
                        env={"NODE_CACHE": str(node_cache), "KIND_CLUSTER_CONFIG": str(config)}, timeout=900)
        assert result.returncode == 0, result.stderr[-4000:]
        (decision,) = decisions(result.stderr)
        assert f"pulled {node}" in decision, result.stderr
        assert "node-image" not in result.stderr and "node-binaries" not in result.stderr, result.stderr
        assert not node_cache.exists(), "the local node build ran"
        assert re.search(r'"(GET|HEAD) /v2/friendlyhello-test/kindest-node/manifests/', registry.log()[pushed:]), \
            "the node image came from the registry"
        running = docker("inspect", "-f", "{{.Config.Image}} {{.State.Running}}", f"{cluster}-control-plane").stdout
        assert running.split() == [node, "true"]
    finally:
        deleted = script("hack/cluster.sh", "delete", env={"CLUSTER_NAME": cluster}, timeout=300)
        docker("rmi", node, check=False)
        if previous:
            script("kubectl", "config", "use-context", previous)
    assert deleted.returncode == 0, deleted.stderr
    assert script("kubectl", "config", "current-context").stdout.strip() == previous


def test_a_tag_the_registry_lacks_stops_at_once_and_builds_nothing(registry, tmp_path):
    missing = f"{registry.host}/friendlyhello-test/kindest-node:v0.0.0-missing"
    node_cache = tmp_path / "node-cache"
    cluster = f"fh-missing-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    result = script("make", "cluster", f"KIND_NODE_IMAGE={missing}", f"CLUSTER_NAME={cluster}",
                    env={"NODE_CACHE": str(node_cache)}, timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert elapsed < QUICK_FAILURE_SECONDS, f"took {elapsed:.0f}s to give up"
    (error,) = [line for line in result.stderr.splitlines() if f"cannot pull {missing}" in line]
    assert "manifest unknown" in error or "not found" in error, error
    assert "stand-in" not in result.stderr
    assert not node_cache.exists()
    assert cluster not in script(tool("kind"), "get", "clusters").stdout


def test_an_unreachable_registry_takes_the_airgap_path_and_says_so(registry):
    resolved("redis")  # the stand-in is built once here (or pulled where a registry answers), not below
    nowhere = f"127.0.0.1:{free_port()}/friendlyhello-test/redis:7"
    result = script("hack/resolve-image.sh", "redis", env={"REDIS_IMAGE": nowhere}, timeout=1800)
    assert result.returncode == 0, result.stderr
    (decision,) = decisions(result.stderr)
    assert nowhere in decision and "no registry reachable" in decision and "connection refused" in decision
    assert "first build" in decision, decision
    assert result.stdout.strip() == STANDINS["STANDIN_REDIS_IMAGE"]


def test_airgap_0_forbids_the_fallback(registry, tmp_path):
    nowhere = f"127.0.0.1:{free_port()}/friendlyhello-test/kindest-node:v-test"
    result = script("hack/resolve-image.sh", "node",
                    env={"KIND_NODE_IMAGE": nowhere, "AIRGAP": "0", "NODE_CACHE": str(tmp_path / "cache")}, timeout=120)
    assert result.returncode != 0
    assert "AIRGAP=0 forbids a local stand-in" in result.stderr and "connection refused" in result.stderr
    assert not (tmp_path / "cache").exists()


def test_airgap_1_uses_the_standin_though_the_registry_answers(registry):
    redis = registry.push(resolved("redis"), "friendlyhello-test/redis:airgap")
    pushed = len(registry.log())
    result = script("hack/resolve-image.sh", "redis", env={"REDIS_IMAGE": redis, "AIRGAP": "1"}, timeout=1800)
    assert result.returncode == 0, result.stderr
    (decision,) = decisions(result.stderr)
    assert "AIRGAP=1" in decision
    assert result.stdout.strip() == STANDINS["STANDIN_REDIS_IMAGE"]
    assert "/v2/friendlyhello-test/redis/" not in registry.log()[pushed:], "AIRGAP=1 asked the registry"


def test_make_image_takes_its_base_from_the_registry(registry):
    base = registry.push(resolved("base"), "friendlyhello-test/debian:base")
    pushed = len(registry.log())
    result = script("make", "image", f"BASE_IMAGE={base}", timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    image = result.stdout.strip().splitlines()[-1]
    try:
        (decision,) = decisions(result.stderr)
        assert f"pulled {base}" in decision
        assert f"on {base}" in result.stderr
        assert "debootstrap" not in result.stderr and "base-image" not in result.stderr
        assert re.search(r'"(GET|HEAD) /v2/friendlyhello-test/debian/manifests/', registry.log()[pushed:]), \
            "the base came from the registry"
        assert docker("image", "inspect", image, check=False).returncode == 0
    finally:
        docker("rmi", image, base, check=False)



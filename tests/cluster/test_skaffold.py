"""The skaffold dev loop on the kind cluster, through hack/skaffold.sh (what
`make dev` runs): build, render, run, and `dev` with a synced edit and an
image rebuild, each timed through the port skaffold forwards.

skaffold runs in a copy of the repository, so the edits never touch the
working tree, and deploys into the test's namespace (FRIENDLYHELLO_NAMESPACE).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from tests.cluster.kube import SKAFFOLD_FORWARD, port_forward
from tests.support import HOSTNAME, PINNED, ROOT, tool, visit_count, wait_until

RELEASE = PINNED["RELEASE_NAME"]
# The first test may wait for skaffold itself (tool()).
pytestmark = pytest.mark.timeout(1800)
COPY_IGNORES = shutil.ignore_patterns(".git", ".venv", ".tools", "__pycache__", ".pytest_cache", "*.pyc")


def copy_of_the_repository(destination: Path) -> Path:
    """The files skaffold builds and deploys from, with the pinned tools shared."""
    shutil.copytree(ROOT, destination, ignore=COPY_IGNORES)
    (destination / ".tools").symlink_to(ROOT / ".tools")
    return destination


def skaffold_env(namespace: str | None) -> dict[str, str]:
    env = {**os.environ}
    if namespace:
        env["FRIENDLYHELLO_NAMESPACE"] = namespace
    return env


def skaffold(repo: Path, namespace: str | None, *args: str, timeout: float = 900) -> str:
    result = subprocess.run([str(repo / "hack/skaffold.sh"), *args], cwd=repo, env=skaffold_env(namespace),
                            capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"hack/skaffold.sh {' '.join(args)} failed:\n{output[-5000:]}"
    return output


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    tool("skaffold")  # made here if make test's build beside the suite has not yet
    return copy_of_the_repository(tmp_path_factory.mktemp("skaffold") / "repo")


@pytest.fixture(scope="module")
def builds(repo, tmp_path_factory) -> dict[str, str]:
    """`skaffold build` with and without the dev profile: profile -> image reference."""
    out = tmp_path_factory.mktemp("builds")
    images = {}
    for profile in ("release", "dev"):
        artifacts = out / f"{profile}.json"
        skaffold(repo, None, "build", f"--file-output={artifacts}", *(["--profile", "dev"] if profile == "dev" else []))
        (build,) = json.loads(artifacts.read_text())["builds"]
        assert build["imageName"] == PINNED["IMAGE_REPOSITORY"]
        images[profile] = build["tag"]
        images[f"{profile}-artifacts"] = str(artifacts)
    return images


def image_config(reference: str) -> dict:
    result = subprocess.run(["docker", "image", "inspect", reference], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]["Config"]


def test_build_gives_the_release_image_and_a_dev_image(builds):
    release, dev = image_config(builds["release"]), image_config(builds["dev"])
    assert release["User"] == dev["User"] == "10001:10001"
    assert "GUNICORN_RELOAD=1" in dev["Env"]
    assert not any(variable.startswith("GUNICORN_RELOAD=") for variable in release["Env"])
    assert builds["release"] != builds["dev"]


def test_render_is_the_chart_with_the_built_image(repo, builds, namespace, tmp_path):
    import kubernetes_validate

    output = tmp_path / "rendered.yaml"
    skaffold(repo, namespace, "render", "--profile", "dev", f"--build-artifacts={builds['dev-artifacts']}",
             f"--output={output}")
    objects = [doc for doc in yaml.safe_load_all(output.read_text()) if doc]
    kinds = {obj["kind"] for obj in objects}
    assert {"Deployment", "StatefulSet", "Service", "Secret", "NetworkPolicy"} <= kinds, kinds
    version = PINNED["KUBERNETES_VERSION"].lstrip("v").rsplit(".", 1)[0] + ".0"
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)
        assert obj["metadata"].get("namespace") == namespace, f"{obj['kind']}/{obj['metadata']['name']}"
    (web,) = [o for o in objects if o["kind"] == "Deployment"]
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["image"] == builds["dev"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is False


def test_run_deploys_a_release_that_counts(repo, builds, namespace, apps):
    skaffold(repo, namespace, "run")
    deployment = apps.read_namespaced_deployment(RELEASE, namespace)
    assert deployment.spec.template.spec.containers[0].image == builds["release"]
    assert deployment.status.ready_replicas == deployment.spec.replicas
    with port_forward(namespace, f"service/{RELEASE}", 80) as url:
        session = requests.Session()
        start = wait_until(lambda: visit_count(url), timeout=20, interval=0.5, message="a counted visit")
        for _ in range(20):
            assert session.get(url + "/", timeout=10).status_code == 200
        assert session.get(url + "/api/visits", timeout=10).json() == {"visits": start + 20}
    skaffold(repo, namespace, "delete")
    assert not apps.list_namespaced_deployment(namespace).items


class SkaffoldDev:
    """`hack/skaffold.sh dev --profile dev` in the background, its output collected."""

    def __init__(self, repo: Path, namespace: str):
        self.namespace = namespace
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(repo / "hack/skaffold.sh"), "dev", "--profile", "dev"], cwd=repo, env=skaffold_env(namespace),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def url(self) -> str | None:
        """The newest address skaffold forwards the web Service to."""
        if self.process.poll() is not None:
            raise AssertionError(f"skaffold dev exited {self.process.returncode}:\n{self.output()[-5000:]}")
        found = [m for m in map(SKAFFOLD_FORWARD.search, self.lines) if m and m.group(1) == self.namespace]
        return found[-1].group(2) if found else None

    def stop(self) -> int:
        """Ctrl-C: skaffold uninstalls the release before it exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def web_pods(core, namespace: str) -> dict[str, str]:
    pods = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=web").items
    return {p.metadata.name: p.spec.containers[0].image for p in pods if p.metadata.deletion_timestamp is None}


def served_by_all(url: str, check, requests_needed: int = 8) -> bool:
    """CHECK holds for several answers in a row, each on a new connection, so
    that every pod and worker answers."""
    for _ in range(requests_needed):
        try:
            page = requests.get(url + "/", timeout=5)
        except requests.RequestException:
            return False
        if page.status_code != 200 or not check(page.text):
            return False
    return True


@pytest.mark.timeout(1800)
def test_dev_syncs_an_edit_and_rebuilds_on_a_dependency_change(tmp_path, namespace, core, apps):
    repo = copy_of_the_repository(tmp_path / "repo")
    dev = SkaffoldDev(repo, namespace)
    rebuilt_images: set[str] = set()
    try:
        wait_until(lambda: dev.url() and dev.count("Watching for changes"), timeout=900, interval=1,
                   message="skaffold dev to deploy and forward the web Service")
        url = dev.url()
        wait_until(lambda: visit_count(url), timeout=30, interval=0.5,
                   message="a counted visit through skaffold's port-forward")
        pods_before, builds_before = web_pods(core, namespace), dev.count("Build [friendlyhello] succeeded")

        # A template edit is synced into the running pods; no image is built.
        template = repo / "app/templates/index.html"
        started = time.monotonic()
        template.write_text(template.read_text().replace("<h3>Hello", "<h3>Edited: Hello"))
        wait_until(lambda: served_by_all(dev.url(), lambda text: "<h3>Edited: Hello" in text), timeout=60,
                   interval=0.2, message="the synced template to be served")
        synced_seconds = time.monotonic() - started
        assert dev.count("Syncing 1 files") >= 1, dev.output()[-3000:]
        assert dev.count("Build [friendlyhello] succeeded") == builds_before, "a synced edit built an image"
        assert web_pods(core, namespace) == pods_before, "a synced edit replaced pods"

        # A dependency change (the lock file) rebuilds the image and rolls the
        # pods. The change is new on every run, so no earlier image matches it.
        lock = repo / "requirements.lock"
        started = time.monotonic()
        lock.write_text(lock.read_text() + f"# rebuild {uuid.uuid4().hex}\n")

        def new_pods_serve():
            pods = web_pods(core, namespace)
            if not pods or set(pods.values()) & set(pods_before.values()):
                return False
            current = dev.url()
            return served_by_all(current, lambda text: (HOSTNAME.search(text) or [None, None])[1] in pods)

        wait_until(new_pods_serve, timeout=600, interval=0.5, message="pods of the rebuilt image to serve")
        rebuilt_seconds = time.monotonic() - started
        assert dev.count("Build [friendlyhello] succeeded") > builds_before
        rebuilt_images = set(web_pods(core, namespace).values())
        print(f"\nskaffold dev: synced template edit served after {synced_seconds:.1f} s (target 5 s); "
              f"lock file change rebuilt and served after {rebuilt_seconds:.1f} s (target 60 s)")
    finally:
        status = dev.stop()
    # The rebuilt image is unique to this run: do not let runs pile them up.
    if rebuilt_images:
        subprocess.run(["docker", "image", "rm", *rebuilt_images], capture_output=True, timeout=120)
    assert status == 0, dev.output()[-3000:]
    assert not apps.list_namespaced_deployment(namespace).items, "skaffold dev removes its release on exit"

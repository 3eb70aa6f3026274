"""Fixtures for the tests on the kind cluster: the API client, a namespace per
test (with events, pod descriptions and logs printed when the test fails), a
helm release in it, port-forwards and in-cluster client pods."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from contextlib import contextmanager

import pytest

from tests.conftest import ROOT, free_port, missing_prerequisite, wait_until

TOOLS = ROOT / ".tools" / "bin"


def versions() -> dict[str, str]:
    lines = (ROOT / "hack/versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


PINNED = versions()
CONTEXT = f"kind-{PINNED['CLUSTER_NAME']}"
CHART = ROOT / "chart"


def run(*command: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{TOOLS}:{os.environ['PATH']}"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def kubectl(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run("kubectl", "--context", CONTEXT, *args, **kwargs)


def helm(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run("helm", "--kube-context", CONTEXT, *args, **kwargs)


@pytest.fixture(scope="session")
def api():
    """The kubernetes client for the cluster; the cluster must exist (make cluster)."""
    from kubernetes import client, config

    try:
        api_client = config.new_client_from_config(context=CONTEXT)
        client.VersionApi(api_client).get_code()
    except Exception as error:  # noqa: BLE001 - any failure means no usable cluster
        missing_prerequisite(f"no kind cluster answers as context {CONTEXT} (make cluster): {error}")
    return api_client


@pytest.fixture(scope="session")
def core(api):
    from kubernetes import client

    return client.CoreV1Api(api)


@pytest.fixture(scope="session")
def apps(api):
    from kubernetes import client

    return client.AppsV1Api(api)


@pytest.fixture(scope="session")
def image_values(api) -> list[str]:
    """helm --set values for the web and Redis images, loaded into the cluster."""
    values = run(str(ROOT / "hack/cluster-images.sh"), timeout=1800).stdout.split()
    return [arg for value in values for arg in ("--set", value)]


def pytest_collection_modifyitems(items):
    """The README's commands end with `make down`, which deletes the cluster: they run last."""
    items.sort(key=lambda item: item.path.name == "test_readme.py")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def dump_namespace(name: str) -> str:
    parts = []
    for args in (("get", "events", "--sort-by=.lastTimestamp"), ("describe", "pods"),
                 ("logs", "--all-containers", "--prefix", "--tail=60", "-l", "app.kubernetes.io/name=friendlyhello")):
        result = kubectl("-n", name, *args, check=False, timeout=60)
        parts.append(f"--- kubectl {' '.join(args)}\n{result.stdout}{result.stderr}")
    return "\n".join(parts)


@pytest.fixture
def namespace(request, core):
    from kubernetes import client

    name = f"fh-{request.node.name[5:30].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name)
    labels = getattr(request, "param", {}) or {}
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    yield name
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"\n===== namespace {name} after the failure =====\n{dump_namespace(name)}")
    helm("uninstall", "rel", "--namespace", name, "--wait", "--timeout", "2m", check=False)
    core.delete_namespace(name)


class Release:
    def __init__(self, namespace: str, image_values: list[str], name: str = "rel"):
        self.namespace, self.name, self.image_values = namespace, name, image_values
        # As the chart's friendlyhello.fullname: cut to 46 before any suffix.
        self.fullname = f"{name}-friendlyhello"[:46].rstrip("-")
        self.service = self.fullname

    def install(self, *args: str, wait: bool = True, check: bool = True) -> subprocess.CompletedProcess:
        command = ["upgrade", "--install", self.name, str(CHART), "--namespace", self.namespace,
                   *self.image_values, *args]
        if wait:
            command += ["--wait", "--timeout", "5m"]
        return helm(*command, check=check, timeout=420)

    def test(self) -> str:
        return helm("test", self.name, "--namespace", self.namespace, "--logs", "--timeout", "3m",
                    timeout=240).stdout

    def web_pods(self, core, terminating: bool = False) -> list:
        """The web pods; those being deleted (in their preStop delay) only if TERMINATING."""
        selector = f"app.kubernetes.io/instance={self.name},app.kubernetes.io/component=web"
        pods = core.list_namespaced_pod(self.namespace, label_selector=selector).items
        return [p for p in pods if terminating or p.metadata.deletion_timestamp is None]

    def redis_pod(self, core):
        return core.read_namespaced_pod(f"{self.fullname}-redis-0", self.namespace)


@pytest.fixture
def release(namespace, image_values) -> Release:
    return Release(namespace, image_values)


@contextmanager
def port_forward(namespace: str, target: str, remote_port: int):
    """kubectl port-forward to TARGET (e.g. service/x); yields the local URL."""
    local = free_port()
    process = subprocess.Popen(
        [str(TOOLS / "kubectl") if (TOOLS / "kubectl").exists() else "kubectl", "--context", CONTEXT,
         "-n", namespace, "port-forward", target, f"{local}:{remote_port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        import requests

        def ready():
            if process.poll() is not None:
                raise AssertionError(f"port-forward exited: {process.stdout.read()}")
            try:
                requests.get(f"http://127.0.0.1:{local}/healthz", timeout=1)
                return True
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout=30, interval=0.3, message=f"port-forward to {target}")
        yield f"http://127.0.0.1:{local}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# A client that runs inside the cluster, in the web image (it has Python):
# it requests URL COUNT times, or for at most SECONDS until told to stop
# (SIGTERM: the request in flight completes), and prints one JSON summary.
CLIENT_SCRIPT = r"""
import json, os, re, signal, sys, time, urllib.request, urllib.error
url = os.environ["URL"]; seconds = float(os.environ.get("SECONDS_", "0")); count = int(os.environ.get("COUNT", "0"))
statuses, hosts, visits, errors, degraded_at = {}, {}, [], [], []
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
deadline = time.monotonic() + seconds
n = 0
while (count and n < count) or (seconds and time.monotonic() < deadline and not stopping):
    n += 1
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, body = error.code, ""
    except Exception as error:
        errors.append(repr(error)[:200]); status, body = 0, ""
    statuses[str(status)] = statuses.get(str(status), 0) + 1
    host = re.search(r"<b>Hostname:</b> ([^<]+)<br/>", body)
    if host: hosts[host.group(1)] = hosts.get(host.group(1), 0) + 1
    found = re.search(r"<b>Visits:</b> (\d+)", body)
    visits.append(int(found.group(1)) if found else None)
    if status == 200 and not found: degraded_at.append(time.monotonic())
    if seconds: time.sleep(float(os.environ.get("PAUSE", "0.01")))
print("RESULT " + json.dumps({"requests": n, "statuses": statuses, "hosts": hosts, "visits": visits,
    "errors": errors[:10], "degraded_seconds": (degraded_at[-1] - degraded_at[0]) if degraded_at else 0,
    "stopped": bool(stopping)}))
"""


def restricted_pod(name: str, image: str, code: str, env: dict | None = None, volumes=None, mounts=None,
                   labels: dict | None = None, node: str | None = None):
    """A run-to-completion pod running Python CODE in IMAGE under the restricted profile
    (on NODE, where given)."""
    from kubernetes import client

    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(
            restart_policy="Never", automount_service_account_token=False, volumes=volumes, node_name=node,
            security_context=client.V1PodSecurityContext(
                run_as_non_root=True, run_as_user=10001, fs_group=10001,
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault")),
            containers=[client.V1Container(
                name="main", image=image, image_pull_policy="IfNotPresent", command=["python", "-c", code],
                env=[client.V1EnvVar(name=k, value=str(v)) for k, v in (env or {}).items()],
                volume_mounts=mounts,
                security_context=client.V1SecurityContext(
                    allow_privilege_escalation=False, read_only_root_filesystem=True,
                    capabilities=client.V1Capabilities(drop=["ALL"])))]))


def client_pod(core, namespace: str, image: str, name: str, url: str, node: str | None = None, **env: str):
    """Starts the in-cluster client (on NODE, where given); returns a function
    that waits and gives its summary, with .wait_running() and .stop() (a
    timed client told to stop must not have run out of time before)."""
    pod = restricted_pod(name, image, CLIENT_SCRIPT, {"URL": url, **env},
                         labels={"app.kubernetes.io/component": "test-client"}, node=node)
    core.create_namespaced_pod(namespace, pod)
    told_to_stop = []

    def result(timeout: float = 600) -> dict:
        def finished():
            phase = core.read_namespaced_pod(name, namespace).status.phase
            return phase if phase in ("Succeeded", "Failed") else None

        wait_until(finished, timeout=timeout, interval=1, message=f"client pod {name}")
        log = core.read_namespaced_pod_log(name, namespace)
        results = [line for line in log.splitlines() if line.startswith("RESULT ")]
        assert results, log
        summary = json.loads(results[-1][len("RESULT "):])
        assert summary["stopped"] or not told_to_stop, f"client {name} ran out of time before it was told to stop"
        return summary

    def wait_running(timeout: float = 120):
        wait_until(lambda: core.read_namespaced_pod(name, namespace).status.phase in ("Running", "Succeeded"),
                   timeout=timeout, interval=0.5, message=f"client pod {name} to run")

    def stop():
        """Ends a timed client early: what it measures is over. (One that
        ended already is found out by result().)"""
        told_to_stop.append(True)
        kubectl("-n", namespace, "exec", name, "--", "python", "-c",
                "import os, signal; os.kill(1, signal.SIGTERM)", timeout=60, check=False)

    result.wait_running, result.stop = wait_running, stop
    return result


# skaffold's line for a port-forward it opened: (namespace, local URL).
SKAFFOLD_FORWARD = re.compile(
    r"Port forwarding service/\S+ in namespace (\S+), remote port 80 -> (http://127\.0\.0\.1:\d+)")


def web_image(image_values: list[str]) -> str:
    values = dict(v.split("=", 1) for v in image_values if "=" in v)
    return f"{values['image.repository']}:{values['image.tag']}"


def restarts(pods) -> int:
    return sum(status.restart_count for pod in pods for status in (pod.status.container_statuses or []))


def elapsed_since(started: float) -> float:
    return time.monotonic() - started


def redis_count(release) -> int:
    """The visit count in the release's Redis, read inside its pod."""
    result = kubectl("-n", release.namespace, "exec", f"{release.fullname}-redis-0", "--",
                     "redis-cli", "-h", "127.0.0.1", "get", "counter")
    return int(result.stdout.strip() or 0)


def wait_for_traffic(release, since: int | None = None, visits: int = 20, timeout: float = 60) -> int:
    """Until a client's visits are being counted (VISITS more than SINCE, or
    than now): a disruption then meets traffic in flight, or is over and the
    service counts again. Returns the count then."""
    start = redis_count(release) if since is None else since
    return wait_until(lambda: (count := redis_count(release)) >= start + visits and count, timeout=timeout,
                      interval=0.5, message=f"{visits} more visits counted than {start}")


def pod_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def wait_for_new_redis(release, core, old_uid: str, timeout: float = 180) -> None:
    """Until a Redis pod other than OLD_UID is ready."""
    from kubernetes.client.exceptions import ApiException

    def ready():
        try:
            pod = release.redis_pod(core)
        except ApiException as error:
            if error.status == 404:  # between the old pod and its successor
                return False
            raise
        return pod.metadata.uid != old_uid and pod_ready(pod)

    wait_until(ready, timeout=timeout, interval=0.5, message="the new Redis pod to be ready")

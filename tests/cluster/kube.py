"""What the tests on the kind cluster share: kubectl and helm on its context,
a helm release in a test's namespace, port-forwards and in-cluster client
pods, and the waits around them."""

from __future__ import annotations

import json
import re
import subprocess
import time
from contextlib import contextmanager

from tests import support
from tests.support import CHART, PINNED, free_port, run, wait_until

CONTEXT = f"kind-{PINNED['CLUSTER_NAME']}"


def kubectl(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run(support.tool("kubectl"), "--context", CONTEXT, *args, **kwargs)


def helm(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return support.helm("--kube-context", CONTEXT, *args, **kwargs)


def dump_namespace(name: str) -> str:
    parts = []
    for args in (("get", "events", "--sort-by=.lastTimestamp"), ("describe", "pods"),
                 ("logs", "--all-containers", "--prefix", "--tail=60", "-l", "app.kubernetes.io/name=friendlyhello")):
        result = kubectl("-n", name, *args, check=False, timeout=60)
        parts.append(f"--- kubectl {' '.join(args)}\n{result.stdout}{result.stderr}")
    return "\n".join(parts)


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


@contextmanager
def port_forward(namespace: str, target: str, remote_port: int):
    """kubectl port-forward to TARGET (e.g. service/x); yields the local URL."""
    local = free_port()
    process = subprocess.Popen(
        [support.tool("kubectl"), "--context", CONTEXT,
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
# (SIGTERM: the request in flight completes), each request given TIMEOUT
# seconds, and prints one JSON summary; each failure is [sent, ended, what
# went wrong], and last_degraded the index in visits of the last answer
# without a count (None if none). Its times are time.monotonic(): the nodes
# are containers on the test's own kernel, so the test's clock too.
CLIENT_SCRIPT = r"""
import json, os, re, signal, sys, time, urllib.request, urllib.error
url = os.environ["URL"]; seconds = float(os.environ.get("SECONDS_", "0")); count = int(os.environ.get("COUNT", "0"))
statuses, hosts, visits, errors, degraded_at, failures = {}, {}, [], [], [], []
timeout = float(os.environ.get("TIMEOUT", "5"))
stopping, last_degraded = [], None
signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
deadline = time.monotonic() + seconds
n = 0
while (count and n < count) or (seconds and time.monotonic() < deadline and not stopping):
    n += 1
    sent, error = time.monotonic(), None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as answer:
        status, body, error = answer.code, "", f"HTTP {answer.code}"
    except Exception as exception:
        error = repr(exception)[:200]; errors.append(error); status, body = 0, ""
    statuses[str(status)] = statuses.get(str(status), 0) + 1
    host = re.search(r"<b>Hostname:</b> ([^<]+)<br/>", body)
    if host: hosts[host.group(1)] = hosts.get(host.group(1), 0) + 1
    found = re.search(r"<b>Visits:</b> (\d+)", body)
    visits.append(int(found.group(1)) if found else None)
    if status == 200 and not found: degraded_at.append(time.monotonic()); last_degraded = n - 1
    if status != 200: failures.append([sent, time.monotonic(), error])
    if seconds: time.sleep(float(os.environ.get("PAUSE", "0.01")))
print("RESULT " + json.dumps({"requests": n, "statuses": statuses, "hosts": hosts, "visits": visits,
    "errors": errors[:10], "degraded_seconds": (degraded_at[-1] - degraded_at[0]) if degraded_at else 0,
    "degraded_window": [degraded_at[0], degraded_at[-1]] if degraded_at else None, "last_degraded": last_degraded,
    "failures": failures[:1000],
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


def service_url(core, release) -> str:
    # The Service's IP, not its name: a drain or a lost node may move CoreDNS,
    # and the client must measure the web pods, not name resolution.
    return f"http://{core.read_namespaced_service(release.service, release.namespace).spec.cluster_ip}/"


def count_gaps(visits: list[int | None]) -> tuple[int, int, int]:
    """(backwards, unseen, uncovered) over the counts one sequential client was
    shown, None for an answer without one (degraded or failed).
    A visit whose INCR Redis ran but whose answer never came (Redis or the web
    pod stopping mid-request) is still counted: a gap between two counts
    shown ("unseen"), which the answers without a count between them must
    cover (a retried INCR would not be: "uncovered"). A lost increment is a
    count the client was shown that Redis no longer has: the count going
    back ("backwards"), or Redis ending below the last count shown."""
    unseen = uncovered = backwards = 0
    last, without_count = None, 0
    for count in visits:
        if count is None:
            without_count += 1
            continue
        if last is not None:
            backwards += count <= last
            gap = max(0, count - last - 1)
            unseen += gap
            uncovered += max(0, gap - without_count)
        last, without_count = count, 0
    return backwards, unseen, uncovered


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

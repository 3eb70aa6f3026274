"""What the chart promises the network and the nodes, on a cluster that enforces
NetworkPolicy and has several nodes: only web pods reach Redis, web pods reach
only DNS and Redis, replicas spread over nodes, and node drains under load
lose no request and no increment."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.cluster.kube import (
    client_pod,
    count_gaps,
    kubectl,
    pod_ready,
    redis_count,
    restricted_pod,
    service_url,
    wait_for_new_redis,
    wait_for_traffic,
    web_image,
)
from tests.support import wait_until

# Connects to HOST:PORT once and prints how it went: open, refused or timeout.
PROBE_SCRIPT = r"""
import os, socket, json, sys
host, port = (sys.argv[1], int(sys.argv[2])) if len(sys.argv) > 2 else (os.environ["HOST"], int(os.environ["PORT"]))
try:
    socket.create_connection((host, port), timeout=5).close(); outcome = "open"
except ConnectionRefusedError:
    outcome = "refused"
except socket.timeout:
    outcome = "timeout"
except OSError as error:
    outcome = "error: " + str(error)
print("PROBE " + json.dumps({"host": host, "port": port, "outcome": outcome}))
"""


def probe(core, namespace: str, image: str, name: str, host: str, port: int, labels: dict | None = None) -> str:
    """From a new pod in NAMESPACE (with LABELS): can it open HOST:PORT?"""
    core.create_namespaced_pod(namespace, restricted_pod(name, image, PROBE_SCRIPT, {"HOST": host, "PORT": port},
                                                         labels=labels or {"app.kubernetes.io/component": "probe"}))
    wait_until(lambda: core.read_namespaced_pod(name, namespace).status.phase in ("Succeeded", "Failed"),
               timeout=120, interval=0.5, message=f"probe pod {name}")
    log = core.read_namespaced_pod_log(name, namespace)
    core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    (line,) = [line for line in log.splitlines() if line.startswith("PROBE ")]
    return json.loads(line[len("PROBE "):])["outcome"]


def probe_from_web_pod(release, core, host: str, port: int) -> str:
    """The same probe, run inside a live web pod (it carries the web labels)."""
    pod = release.web_pods(core)[0].metadata.name
    # The image has no shell and no env: host and port go as arguments.
    result = kubectl("-n", release.namespace, "exec", pod, "--", "python", "-c", PROBE_SCRIPT, host, str(port),
                     timeout=60)
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    return json.loads(line[len("PROBE "):])["outcome"]


@pytest.fixture
def other_namespace(core):
    from kubernetes import client

    name = f"fh-outsider-{int(time.time() * 1000) % 100000}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


# A policy engine programs a change some moments after the API has it (new
# pods' addresses, new or removed policies): a probe is repeated until its
# answer settles, and fails when it never does.
POLICY_SETTLES_SECONDS = 60


def settles(check, expected: tuple[str, ...], what: str) -> str:
    outcomes = []

    def answered():
        outcomes.append(check(len(outcomes)))
        return outcomes[-1] in expected

    try:
        wait_until(answered, timeout=POLICY_SETTLES_SECONDS, interval=1, message=what)
    except AssertionError:
        raise AssertionError(f"{what}: never {expected}, got {outcomes}") from None
    return outcomes[-1]


def test_only_web_pods_reach_redis_and_web_pods_reach_only_dns_and_redis(release, core, image_values,
                                                                         other_namespace):
    release.install()
    image = web_image(image_values)
    redis = f"{release.fullname}-redis.{release.namespace}.svc.cluster.local"
    api = "kubernetes.default.svc.cluster.local"
    blocked, opened = ("timeout", "refused"), ("open",)

    def outsider(namespace, tag):
        return lambda attempt: probe(core, namespace, image, f"{tag}-{attempt}", redis, 6379)

    settles(lambda _: probe_from_web_pod(release, core, redis, 6379), opened, "a web pod opens Redis")
    assert "counter path ok" in release.test(), "the helm test pod reaches Redis through the web pods"
    settles(outsider(release.namespace, "outsider"), blocked, "a pod without the web labels is kept from Redis")
    settles(outsider(other_namespace, "other-ns"), blocked, "a pod of another namespace is kept from Redis")
    # Egress: the web pods resolve names and reach Redis (above), and nothing else.
    settles(lambda _: probe_from_web_pod(release, core, api, 443), blocked, "a web pod is kept from the API")

    # The same probes with the policies off: if these did not open, the
    # refusals above would prove nothing about the policy engine.
    release.install("--set", "networkPolicy.enabled=false")
    settles(outsider(release.namespace, "outsider-open"), opened, "with no policy, the outsider opens Redis")
    settles(outsider(other_namespace, "other-ns-open"), opened, "with no policy, another namespace opens Redis")
    settles(lambda _: probe_from_web_pod(release, core, api, 443), opened, "with no policy, a web pod opens the API")


def schedulable_workers(core) -> list[str]:
    nodes = core.list_node().items
    return [n.metadata.name for n in nodes
            if not n.spec.unschedulable and not any(t.effect == "NoSchedule" for t in (n.spec.taints or []))]


def test_web_replicas_land_on_different_nodes(release, core):
    assert len(schedulable_workers(core)) >= 2, "the project's cluster has two workers (k8s/kind-cluster.yaml)"
    release.install()
    nodes = [pod.spec.node_name for pod in release.web_pods(core)]
    assert len(nodes) == 2 and len(set(nodes)) == 2, nodes


class ReadyWebPods(threading.Thread):
    """Watches, while a drain runs, the fewest web pods that were ready at once."""

    def __init__(self, release, core):
        super().__init__(daemon=True)
        self.release, self.core, self.fewest, self.stopped = release, core, 99, threading.Event()

    def run(self):
        while not self.stopped.is_set():
            self.fewest = min(self.fewest, sum(pod_ready(pod) for pod in self.release.web_pods(self.core)))
            time.sleep(0.3)

    def stop(self) -> int:
        self.stopped.set()
        self.join(timeout=10)
        return self.fewest


def local_path_helpers(core, node: str) -> list[str]:
    """local-path's helper pods on NODE: each creates or deletes a volume there
    (an earlier test's namespace going away starts one)."""
    pods = core.list_namespaced_pod("local-path-storage", field_selector=f"spec.nodeName={node}").items
    return [pod.metadata.name for pod in pods if pod.metadata.name.startswith("helper-pod-")]


def drain(core, node: str) -> str:
    """kubectl drain, once local-path's work on NODE is done: a helper pod has
    no controller, so drain refuses to evict it (as it should: the volume
    would be left half made or half deleted). One that starts between the
    check and the drain is waited for the same way."""
    for _ in range(3):
        wait_until(lambda: not local_path_helpers(core, node), timeout=180, interval=0.5,
                   message=f"local-path's helper pods on {node} to finish")
        result = kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=180s",
                         timeout=240, check=False)
        if result.returncode == 0:
            return result.stdout
        if "local-path-storage/helper-pod-" not in result.stderr:
            break
    raise AssertionError(f"kubectl drain {node} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def page_is_degraded(release, core) -> bool:
    """A web pod finds Redis away: its read-only visits API answers 503 (the
    page then answers 200 without a count; reading changes no count)."""
    pods = [p for p in release.web_pods(core) if p.status.phase == "Running"]
    if not pods:
        return False
    code = ("import urllib.request, urllib.error\n"
            "try: print(urllib.request.urlopen('http://127.0.0.1:8080/api/visits', timeout=5).status)\n"
            "except urllib.error.HTTPError as error: print(error.code)")
    result = kubectl("-n", release.namespace, "exec", pods[0].metadata.name, "--", "python", "-c", code,
                     check=False, timeout=30)
    return result.stdout.strip() == "503"


def test_draining_a_web_node_under_load_fails_no_request(release, core, api, image_values):
    from kubernetes import client

    release.install()
    redis_node = release.redis_pod(core).spec.node_name
    web_nodes = {pod.spec.node_name for pod in release.web_pods(core)}
    (target,) = web_nodes - {redis_node} or [None]
    assert target, f"no node runs a web pod without Redis: web on {web_nodes}, Redis on {redis_node}"
    pdb = client.PolicyV1Api(api).read_namespaced_pod_disruption_budget(release.fullname, release.namespace)
    traffic = client_pod(core, release.namespace, web_image(image_values), "drain-client",
                         service_url(core, release), SECONDS_=600, PAUSE=0.005, node=redis_node)
    traffic.wait_running()
    start = wait_for_traffic(release)
    watcher = ReadyWebPods(release, core)
    watcher.start()
    try:
        output = drain(core, target)
        # Traffic goes on until the evicted pod's successor is ready too.
        wait_until(lambda: sum(pod_ready(pod) for pod in release.web_pods(core, terminating=True)) == 2,
                   timeout=120, interval=0.5, message="the evicted web pod's successor to be ready")
    finally:
        fewest = watcher.stop()
        kubectl("uncordon", target)
    wait_for_traffic(release, start, visits=1000, timeout=120)
    traffic.stop()
    result = traffic(timeout=240)
    print(f"web node {target} drained: {result['requests']} requests, statuses {result['statuses']}, "
          f"fewest ready web pods {fewest}")
    assert "evicted" in output, output
    assert result["requests"] >= 1000, result["requests"]
    assert result["statuses"] == {"200": result["requests"]}, (result["statuses"], result["errors"])
    assert fewest >= pdb.spec.min_available, f"the PDB allows {pdb.spec.min_available}, {fewest} were ready"


def test_draining_the_redis_node_degrades_then_loses_no_increment(release, core, image_values):
    release.install()
    redis_node = release.redis_pod(core).spec.node_name
    other = [n for n in schedulable_workers(core) if n != redis_node]
    assert other, "a second worker to keep serving"
    traffic = client_pod(core, release.namespace, web_image(image_values), "redis-drain-client",
                         service_url(core, release), SECONDS_=600, PAUSE=0.02, node=other[0])
    traffic.wait_running()
    wait_until(lambda: redis_count(release) > 0, timeout=60, interval=0.5, message="counted visits")
    old_redis = release.redis_pod(core).metadata.uid
    try:
        drain(core, redis_node)

        def waiting_redis():
            # Redis's volume is local to its node: the new pod waits for it.
            pods = core.list_namespaced_pod(release.namespace, field_selector=(
                f"metadata.name={release.fullname}-redis-0")).items
            return pods and pods[0].status.phase == "Pending" and pods[0].metadata.deletion_timestamp is None

        wait_until(waiting_redis, timeout=60, interval=0.5, message="the new Redis pod waiting for its node")
        wait_until(lambda: page_is_degraded(release, core), timeout=30, interval=0.5,
                   message="the page to answer degraded")
    finally:
        kubectl("uncordon", redis_node)
    wait_for_new_redis(release, core, old_redis)
    wait_for_traffic(release)
    traffic.stop()
    result = traffic(timeout=300)
    counted = [v for v in result["visits"] if v is not None]
    degraded = sum(1 for v in result["visits"] if v is None)
    backwards, unseen, uncovered = count_gaps(result["visits"])
    assert counted, "the client saw counts"
    final = redis_count(release)
    print(f"Redis node {redis_node} drained: {result['requests']} requests, statuses {result['statuses']}, "
          f"degraded {result['degraded_seconds']:.1f}s ({degraded} answers), increments lost "
          f"{backwards + max(0, counted[-1] - final)}, counted but answered degraded {unseen}")
    assert set(result["statuses"]) == {"200"}, (result["statuses"], result["errors"])
    assert degraded > 0, "the page answered degraded while Redis waited for its node"
    assert release.redis_pod(core).spec.node_name == redis_node, "Redis came back on its volume's node"
    assert backwards == 0, "the count never went back"
    assert uncovered == 0, "every visit counted unseen was one answered degraded, between the counts around it"
    assert final == counted[-1], "every count shown is in Redis, and no visit came after the last"

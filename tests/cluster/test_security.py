"""Pod Security "restricted", NetworkPolicy selectors, Redis AUTH, bad values, stable password."""

import base64

import pytest

from tests.cluster.kube import helm, kubectl, port_forward
from tests.support import CHART, visit_count, wait_until


@pytest.mark.parametrize("namespace", [{"pod-security.kubernetes.io/enforce": "restricted"}], indirect=True)
def test_installs_under_the_restricted_pod_security_standard(release, core):
    release.install()
    assert core.read_namespace(release.namespace).metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert len(release.web_pods(core)) == 2
    assert release.redis_pod(core).status.phase == "Running"
    assert "counter path ok" in release.test()


def test_network_policy_selects_the_real_pods(release, core, api):
    """The policy's selectors against the live pods they must select (what the
    policy engine then enforces is tests/cluster/test_network.py's part)."""
    from kubernetes import client

    release.install()
    policies = {p.metadata.name: p for p in client.NetworkingV1Api(api).list_namespaced_network_policy(
        release.namespace).items}
    redis_policy = policies[f"{release.fullname}-redis"].spec
    selected = core.list_namespaced_pod(release.namespace, label_selector=",".join(
        f"{k}={v}" for k, v in redis_policy.pod_selector.match_labels.items())).items
    assert [p.metadata.name for p in selected] == [f"{release.fullname}-redis-0"]
    allowed = redis_policy.ingress[0]._from[0].pod_selector.match_labels
    admitted = {p.metadata.name for p in core.list_namespaced_pod(release.namespace, label_selector=",".join(
        f"{k}={v}" for k, v in allowed.items())).items}
    assert admitted == {p.metadata.name for p in release.web_pods(core)}


def test_redis_refuses_unauthenticated_commands(release, core):
    release.install()
    pod = f"{release.fullname}-redis-0"
    anonymous = kubectl("-n", release.namespace, "exec", pod, "--", "env", "-u", "REDISCLI_AUTH",
                        "redis-cli", "-h", "127.0.0.1", "incr", "counter", check=False)
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    authenticated = kubectl("-n", release.namespace, "exec", pod, "--", "redis-cli", "-h", "127.0.0.1", "ping")
    assert authenticated.stdout.strip() == "PONG"
    flush = kubectl("-n", release.namespace, "exec", pod, "--", "redis-cli", "-h", "127.0.0.1", "flushall",
                    check=False)
    assert "unknown command" in (flush.stdout + flush.stderr).lower()


def test_bad_values_are_refused_before_anything_is_created(release, core, api):
    bad = CHART.parent / "tests/static/bad-values/negative-replicas.yaml"
    result = release.install("-f", str(bad), wait=False, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert "/replicaCount" in result.stderr
    assert core.list_namespaced_pod(release.namespace).items == []
    assert core.list_namespaced_secret(release.namespace).items == [] or all(
        not s.metadata.name.startswith("sh.helm.release") for s in core.list_namespaced_secret(release.namespace).items)
    listing = helm("list", "--namespace", release.namespace, "-q").stdout.strip()
    assert listing == "", listing


def test_upgrades_keep_the_redis_password(release, core):
    def password():
        secret = core.read_namespaced_secret(f"{release.fullname}-redis", release.namespace)
        return base64.b64decode(secret.data["redis-password"])

    release.install()
    first = password()
    assert len(first) == 32
    release.install("--set", "app.name=Upgraded")
    release.install("--set", "app.name=Again")
    assert password() == first
    assert "counter path ok" in release.test(), "web and Redis still agree on the password"


def test_a_password_rotation_through_values_restarts_both_workloads_and_counts_on(release, core):
    """The new password reaches Redis and every web pod together (a checksum of
    it on both pod templates), so the page counts again, from where it was."""
    release.install("--set", "redis.auth.password=first-password")
    before = {pod.metadata.uid for pod in release.web_pods(core)} | {release.redis_pod(core).metadata.uid}
    with port_forward(release.namespace, f"service/{release.service}", 80) as url:
        counted = wait_until(lambda: visit_count(url), timeout=30, interval=0.5, message="a counted visit")
    release.install("--set", "redis.auth.password=second-password")
    after = {pod.metadata.uid for pod in release.web_pods(core)} | {release.redis_pod(core).metadata.uid}
    assert not before & after, "every web pod and the Redis pod were replaced"
    secret = core.read_namespaced_secret(f"{release.fullname}-redis", release.namespace)
    assert base64.b64decode(secret.data["redis-password"]) == b"second-password"
    with port_forward(release.namespace, f"service/{release.service}", 80) as url:
        again = wait_until(lambda: visit_count(url), timeout=60, interval=0.5, message="the page to count again")
    assert again > counted, "the count went on from where it was"

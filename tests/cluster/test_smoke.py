"""The chart on kind: installs, passes helm test, serves and counts."""


import requests

from tests.cluster.kube import Release, client_pod, port_forward, web_image
from tests.support import HOSTNAME, VISITS, visit_count, wait_until


def test_install_and_helm_test(release, core, apps):
    release.install()
    deployment = apps.read_namespaced_deployment(release.fullname, release.namespace)
    assert deployment.status.ready_replicas == deployment.spec.replicas == 2
    statefulset = apps.read_namespaced_stateful_set(f"{release.fullname}-redis", release.namespace)
    assert statefulset.status.ready_replicas == 1
    output = release.test()
    assert "Phase:          Succeeded" in output or "Succeeded" in output
    assert "counter path ok: web -> Redis INCR" in output, output


def test_browse_through_port_forward(release, core):
    release.install()
    pods = {pod.metadata.name for pod in release.web_pods(core)}
    with port_forward(release.namespace, f"service/{release.service}", 80) as url:
        session = requests.Session()
        # A web pod may still be backing off from a Redis that started after it.

        def counted_page():
            page = session.get(url + "/", timeout=10)
            return page if VISITS.search(page.text) else None

        first = wait_until(counted_page, timeout=15, interval=0.5, message="a counted visit")
        assert first.status_code == 200
        host = HOSTNAME.search(first.text).group(1)
        assert host in pods, f"{host} is not a pod of the release: {pods}"
        start = int(VISITS.search(first.text).group(1))
        visits = 50
        for _ in range(visits):
            assert session.get(url + "/", timeout=10).status_code == 200
        assert session.get(url + "/api/visits", timeout=10).json() == {"visits": start + visits}


def test_load_balancing_over_all_replicas_with_one_counter(release, core, image_values):
    release.install("--set", "replicaCount=3")
    pods = {pod.metadata.name for pod in release.web_pods(core)}
    assert len(pods) == 3
    # New connection per request (urllib), so kube-proxy spreads them.
    result = client_pod(core, release.namespace, web_image(image_values), "lb-client",
                        f"http://{release.service}/", COUNT=120)()
    assert result["statuses"] == {"200": 120}, result
    assert set(result["hosts"]) == pods, result["hosts"]
    visits = result["visits"]
    assert visits == sorted(visits) and len(set(visits)) == 120, "one shared counter, every visit counted once"


def test_the_longest_release_name_helm_accepts_installs_and_serves(namespace, image_values, core, apps):
    """53 characters: every name the chart derives still fits (the StatefulSet's
    pods need 52 for their controller-revision-hash label, Services 63)."""
    release = Release(namespace, image_values, name="r" * 53)
    release.install()
    assert len(release.fullname) == 46 and len(f"{release.fullname}-redis-headless") <= 63
    statefulset = apps.read_namespaced_stateful_set(f"{release.fullname}-redis", namespace)
    assert statefulset.status.ready_replicas == 1
    with port_forward(namespace, f"service/{release.service}", 80) as url:
        assert wait_until(lambda: visit_count(url), timeout=30, interval=0.5, message="a counted visit")

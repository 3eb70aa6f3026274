"""Redis restarts, rolling upgrades and killed pods, under traffic."""

import time

from tests.cluster.kube import (
    client_pod,
    elapsed_since,
    kubectl,
    restarts,
    wait_for_new_redis,
    wait_for_traffic,
    web_image,
)
from tests.support import wait_until


def test_redis_restart_degrades_then_continues_the_count(release, core, image_values):
    release.install()
    image = web_image(image_values)
    before = client_pod(core, release.namespace, image, "before", f"http://{release.service}/", COUNT=20)()
    assert before["statuses"] == {"200": 20}
    # Right after the install a web pod may still be backing off from a Redis
    # that was not up yet: its answers then carry no count.
    counts_before = [v for v in before["visits"] if v is not None]
    assert counts_before, before
    last_count = counts_before[-1]
    web_restarts = restarts(release.web_pods(core))

    traffic = client_pod(core, release.namespace, image, "during", f"http://{release.service}/",
                         SECONDS_=600, PAUSE=0.05)
    traffic.wait_running()
    wait_for_traffic(release, last_count)
    old_redis = release.redis_pod(core).metadata.uid
    kubectl("-n", release.namespace, "delete", "pod", f"{release.fullname}-redis-0", "--wait=false")
    wait_for_new_redis(release, core, old_redis)
    wait_for_traffic(release)
    traffic.stop()
    result = traffic(timeout=180)
    print(f"during the Redis restart: {result['requests']} requests, statuses {result['statuses']}")
    assert set(result["statuses"]) == {"200"}, f"no 5xx and no failed request: {result['statuses']}"
    counted = [v for v in result["visits"] if v is not None]
    degraded = sum(1 for v in result["visits"] if v is None)
    assert degraded > 0, "the page answered degraded while Redis was away"
    assert counted[0] == last_count + 1, "the count went on from where it was"
    assert counted[-1] > last_count + 1 and counted == sorted(counted), "after the restart it continued, not from 1"
    assert restarts(release.web_pods(core)) == web_restarts, "web pods never restarted"
    lost = sum(max(0, a - b + 1) for a, b in zip(counted, counted[1:], strict=False))
    print(f"Redis restart: page degraded for {result['degraded_seconds']:.1f}s ({degraded} answers), "
          f"increments lost: {lost}")
    assert lost == 0


def test_zero_downtime_rolling_upgrade(release, core, image_values):
    release.install()
    traffic = client_pod(core, release.namespace, web_image(image_values), "rollout-client",
                         f"http://{release.service}/", SECONDS_=600, PAUSE=0.005)
    traffic.wait_running()
    start = wait_for_traffic(release)
    started = time.monotonic()
    release.install("--set", "podAnnotations.rollout=second")
    print(f"helm upgrade --wait took {elapsed_since(started):.1f}s")
    # Until the old pods are gone (their preStop delay over) and the client has
    # made its 1,000 requests.
    wait_until(lambda: len(release.web_pods(core, terminating=True)) == 2, timeout=120, interval=0.5,
               message="the old web pods to be gone")
    wait_for_traffic(release, start, visits=1000, timeout=120)
    traffic.stop()
    result = traffic(timeout=240)
    print(f"during the rolling upgrade: {result['requests']} requests, statuses {result['statuses']}")
    assert result["requests"] >= 1000, result["requests"]
    assert result["statuses"] == {"200": result["requests"]}, (result["statuses"], result["errors"])
    assert len(result["hosts"]) >= 4, "requests were answered by old and new pods"


def test_killed_web_pod_does_not_interrupt_the_service(release, core, api, image_values):
    from kubernetes import client

    release.install()
    pdb = client.PolicyV1Api(api).read_namespaced_pod_disruption_budget(release.fullname, release.namespace)
    assert pdb.spec.min_available == 1
    victim = release.web_pods(core)[0].metadata.name
    traffic = client_pod(core, release.namespace, web_image(image_values), "kill-client",
                         f"http://{release.service}/", SECONDS_=600, PAUSE=0.02)
    traffic.wait_running()
    start = wait_for_traffic(release)
    kubectl("-n", release.namespace, "delete", "pod", victim, "--grace-period=0", "--force")
    wait_until(lambda: len(release.web_pods(core)) == 2 and all(
        p.status.phase == "Running" for p in release.web_pods(core)), timeout=120, message="a replacement pod")
    # Enough requests that the 3 % allowed to fail is not just the few in flight.
    wait_for_traffic(release, start, visits=300, timeout=120)
    traffic.stop()
    result = traffic(timeout=120)
    print(f"web pod killed: {result['requests']} requests, statuses {result['statuses']}")
    ok = result["statuses"].get("200", 0)
    assert ok >= result["requests"] * 0.97, result
    assert not {s for s in result["statuses"] if s.startswith("5")}, result["statuses"]

"""The HorizontalPodAutoscaler on kind, fed by metrics-server
(hack/metrics-server.sh): under in-cluster load the web Deployment scales
from minReplicas to more within two minutes and back to minReplicas once the
load stops, while a steady client sees no failed request through both."""

from __future__ import annotations

import time

import pytest

from tests.cluster.kube import client_pod, elapsed_since, service_url, web_image
from tests.support import ROOT, run, wait_until

MIN_REPLICAS, MAX_REPLICAS = 2, 4
LOAD_CLIENTS = 2  # back to back, no pause: each keeps a web pod's worker busy
# Setting up may wait for the add-ons' images: make test builds them beside
# the suite, and where nobody did, the script builds them.
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def metrics_server(api):
    """Removed after the module: an aggregated API that stops answering (its
    pod on a node another test stops) holds up every namespace's deletion."""
    script = str(ROOT / "hack/metrics-server.sh")
    run(script, "up", timeout=1800)
    yield
    run(script, "delete", timeout=300)


def test_scales_up_under_load_and_down_after_it_failing_no_request(metrics_server, release, core, apps,
                                                                   image_values):
    release.install(
        "--set", "autoscaling.enabled=true", "--set", f"autoscaling.minReplicas={MIN_REPLICAS}",
        "--set", f"autoscaling.maxReplicas={MAX_REPLICAS}", "--set", "autoscaling.targetCPUUtilizationPercentage=50",
        # Short, so the test sees the way down too; the defaults wait 300 s.
        "--set", "autoscaling.behavior.scaleDown.stabilizationWindowSeconds=30",
        "--set", "autoscaling.behavior.scaleDown.pods=2", "--set", "autoscaling.behavior.scaleDown.periodSeconds=15")
    from kubernetes import client

    autoscaling = client.AutoscalingV2Api(core.api_client)

    def replicas() -> int:
        return apps.read_namespaced_deployment(release.fullname, release.namespace).status.replicas or 0

    def measured():
        hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler(release.fullname, release.namespace)
        # Until metrics-server has the pods' CPU, the entry has no resource reading.
        return any(metric.resource and metric.resource.current.average_utilization is not None
                   for metric in hpa.status.current_metrics or [])

    wait_until(measured, timeout=180, interval=2, message="the autoscaler reading the web pods' CPU")
    assert replicas() == MIN_REPLICAS
    image, url = web_image(image_values), service_url(core, release)
    steady = client_pod(core, release.namespace, image, "steady", url, SECONDS_="900", PAUSE="0.1")
    steady.wait_running()
    loads = [client_pod(core, release.namespace, image, f"load-{n}", url, SECONDS_="600", PAUSE="0")
             for n in range(LOAD_CLIENTS)]
    for load in loads:
        load.wait_running()
    started = time.monotonic()

    scaled_up = wait_until(lambda: replicas() > MIN_REPLICAS and elapsed_since(started), timeout=180, interval=1,
                           message="a scale-up under load")
    # Load until the new pods serve, and a little longer for the autoscaler to go on.
    wait_until(lambda: (apps.read_namespaced_deployment(release.fullname, release.namespace).status.ready_replicas
                        or 0) == replicas(), timeout=120, interval=1, message="the new pods ready")
    time.sleep(20)
    reached = replicas()
    for load in loads:
        load.stop()
    served = [load() for load in loads]
    stopped = time.monotonic()

    scaled_down = wait_until(lambda: replicas() == MIN_REPLICAS and elapsed_since(stopped), timeout=300,
                             interval=1, message=f"the scale-down to {MIN_REPLICAS}")
    # The removed pods drain before the steady client stops looking.
    wait_until(lambda: len(release.web_pods(core, terminating=True)) == MIN_REPLICAS, timeout=120, interval=1,
               message="the removed pods gone")
    steady.stop()
    through = steady()
    print(f"\nfirst scale-up {scaled_up:.0f} s after the load began; {reached} replicas reached "
          f"(max {MAX_REPLICAS}); scaled down to {MIN_REPLICAS} {scaled_down:.0f} s after it stopped; "
          f"requests served: load {sum(result['requests'] for result in served)}, "
          f"steady client {through['requests']}")
    assert scaled_up <= 120, f"the first scale-up came {scaled_up:.0f} s after the load began"
    for result in [*served, through]:
        assert set(result["statuses"]) == {"200"}, result["failures"][:20]

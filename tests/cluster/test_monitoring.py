"""The chart's metrics and alerts as a real Prometheus Operator sees them on
kind (hack/monitoring.sh: the operator, its CRDs and a Prometheus that
selects by MONITORING_SELECTOR and evaluates every 5 s): the release's
ServiceMonitor, exactly as the chart renders it, makes each web pod a target
that is up; with Redis stopped, FriendlyhelloCounterDegraded fires through
the Prometheus API within its `for` plus two scrape intervals, and resolves
once Redis is back; every query of the dashboard returns a series."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from tests.cluster.kube import kubectl, port_forward, wait_for_new_redis
from tests.support import PINNED, ROOT, dashboard_queries, dashboard_variables, run, wait_until

SCRAPE_SECONDS = 5  # the ServiceMonitor's interval here; the Prometheus evaluates its rules as often
FOR_SECONDS = 20  # FriendlyhelloCounterDegraded's `for` here
POLL_SECONDS = 1  # how often the test asks Prometheus, the slack its reading adds
# Setting up may wait for the add-ons' images: make test builds them beside
# the suite, and where nobody did, the script builds them.
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def prometheus(api):
    """The Prometheus API's URL (a port-forward to the operator's Service),
    removed after the module: the other tests' cluster has no Prometheus."""
    script = str(ROOT / "hack/monitoring.sh")
    namespace, service = run(script, "up", timeout=1800).stdout.split()[-1].split("/")
    try:
        with port_forward(namespace, f"service/{service}", 9090) as url:
            yield url
    finally:
        run(script, "delete", timeout=300)


def api_get(url: str, path: str, **params) -> dict:
    answer = requests.get(f"{url}/api/v1/{path}", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def degraded_alerts(url: str, namespace: str) -> dict[str, str]:
    """pod -> state (pending, firing) of this release's FriendlyhelloCounterDegraded alerts."""
    return {alert["labels"]["pod"]: alert["state"] for alert in api_get(url, "alerts")["alerts"]
            if alert["labels"]["alertname"] == "FriendlyhelloCounterDegraded"
            and alert["labels"].get("namespace") == namespace}


def clock() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def test_the_release_is_scraped_and_its_alert_fires_and_resolves(prometheus, release, core):
    key, value = PINNED["MONITORING_SELECTOR"].split("=")
    release.install(
        "--set", "metrics.serviceMonitor.enabled=true", "--set", f"metrics.serviceMonitor.labels.{key}={value}",
        "--set", f"metrics.serviceMonitor.interval={SCRAPE_SECONDS}s",
        "--set", "metrics.prometheusRule.enabled=true",
        "--set", f"metrics.prometheusRule.additionalLabels.{key}={value}",
        "--set", f"metrics.alerts.counterDegraded.for={FOR_SECONDS}s")
    namespace, service = release.namespace, release.service
    pods = {pod.metadata.name for pod in release.web_pods(core)}

    # Each web pod a target through the ServiceMonitor the chart rendered, and up.
    def targets_up():
        targets = [t for t in api_get(prometheus, "targets", state="active")["activeTargets"]
                   if t["labels"].get("namespace") == namespace and t["labels"].get("service") == service]
        up = {t["labels"]["pod"] for t in targets if t["health"] == "up"}
        return targets if up == pods else None

    targets = wait_until(targets_up, timeout=180, interval=2, message=f"the web pods {pods} as targets that are up")
    assert {t["scrapePool"] for t in targets} == {f"serviceMonitor/{namespace}/{release.fullname}/0"}, targets
    assert {t["scrapeUrl"].rsplit("/", 1)[1] for t in targets} == {"metrics"}

    # The release's rules loaded; nothing pending while Redis answers.
    def rule_loaded():
        groups = api_get(prometheus, "rules", type="alert")["groups"]
        return any(rule["name"] == "FriendlyhelloCounterDegraded"
                   for group in groups if group["name"] == f"friendlyhello.{namespace}.{release.fullname}"
                   for rule in group["rules"])

    wait_until(rule_loaded, timeout=120, interval=2, message="the release's PrometheusRule loaded")

    # Redis answering as the scrapes see it: a scrape of each web pod read the
    # count (the visits gauge has a series only from then on) and found its
    # counter not degraded. A pod's first scrape may come before Redis
    # answers it.
    def series_pods(query: str) -> set[str]:
        return {sample["metric"]["pod"] for sample in api_get(prometheus, "query", query=query)["result"]}

    release_series = f'{{namespace="{namespace}", service="{service}"}}'
    wait_until(lambda: series_pods(f"friendlyhello_visits{release_series}")
               == series_pods(f"friendlyhello_counter_degraded{release_series} == 0") == pods,
               timeout=120, interval=POLL_SECONDS, message="a scrape of each web pod that read the count from Redis")
    wait_until(lambda: not degraded_alerts(prometheus, namespace), timeout=60, interval=POLL_SECONDS,
               message="no FriendlyhelloCounterDegraded while Redis answers")
    with port_forward(namespace, f"service/{service}", 80) as url:
        for _ in range(40):  # requests for the dashboard's request and latency panels
            assert requests.get(url + "/", timeout=10).status_code == 200

    # Redis stopped: both pods' alerts fire within for + two scrape intervals.
    redis = release.redis_pod(core)
    print(f"\n{clock()} scaling Redis to 0")
    kubectl("-n", namespace, "scale", f"statefulset/{release.fullname}-redis", "--replicas=0")

    def redis_gone():
        return redis.metadata.uid not in {pod.metadata.uid for pod in core.list_namespaced_pod(namespace).items}

    wait_until(redis_gone, timeout=120, interval=0.5, message="the Redis pod gone")
    gone = time.monotonic()
    print(f"{clock()} Redis pod gone")
    seen: dict[str, float] = {}

    def all_firing():
        states = degraded_alerts(prometheus, namespace)
        for pod, state in states.items():
            if state == "firing" and pod not in seen:
                seen[pod] = time.monotonic() - gone
                print(f"{clock()} FriendlyhelloCounterDegraded firing for {pod}, {seen[pod]:.1f} s after")
        return set(seen) == pods

    bound = FOR_SECONDS + 2 * SCRAPE_SECONDS + POLL_SECONDS
    wait_until(all_firing, timeout=bound + 60, interval=POLL_SECONDS, message="the alert firing for every web pod")
    assert max(seen.values()) <= bound, f"fired {seen} s after Redis went, over for + 2 scrapes ({bound} s)"

    # Every dashboard query returns a series (the Redis errors too, now).
    queries = dashboard_queries(namespace, service)
    empty = [query for query in queries if not api_get(prometheus, "query", query=query)["result"]]
    assert not empty, f"dashboard queries with no series: {empty}"
    # Its variables offer the release: Grafana's label_values(SELECTOR, LABEL) is this API call.
    for name, query in dashboard_variables().items():
        selector, label = query.replace("$namespace", namespace).removeprefix("label_values(").removesuffix(")") \
            .rsplit(", ", 1)
        values = api_get(prometheus, f"label/{label}/values", **{"match[]": selector})
        assert {"namespace": namespace, "service": service}[name] in values, (name, values)

    # Redis back: the alerts resolve.
    kubectl("-n", namespace, "scale", f"statefulset/{release.fullname}-redis", "--replicas=1")
    wait_for_new_redis(release, core, redis.metadata.uid)
    back = time.monotonic()
    print(f"{clock()} Redis ready again")
    wait_until(lambda: not degraded_alerts(prometheus, namespace), timeout=120, interval=POLL_SECONDS,
               message="FriendlyhelloCounterDegraded resolved")
    print(f"{clock()} FriendlyhelloCounterDegraded resolved, {time.monotonic() - back:.1f} s after")

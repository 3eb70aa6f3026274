"""The chart's alert rules and dashboard, as rendered: a PrometheusRule only
when asked for and where its CRD is, every rule keeping to the release's own
series, its thresholds the values', each with a summary, a description and a
runbook section of docs/operations.md that exists; the dashboard a ConfigMap
for Grafana's sidecar whose every panel queries the release's series.
(How the rules behave on series: test_promtool.py.)"""

import json
import re

import pytest
import yaml

from tests.static.chart import find, render
from tests.support import ROOT

RULE_API = ("--api-versions", "monitoring.coreos.com/v1/PrometheusRule")
ENABLED = ("--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.serviceMonitor.enabled=true")
METRIC = re.compile(r"\b(friendlyhello_[a-z_]+|up)(\{[^}]*\})?")


def rules(*args: str) -> list[dict]:
    rule = find(render(*RULE_API, *ENABLED, *args), "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def anchors() -> set[str]:
    headings = re.findall(r"^#+ (.+)$", (ROOT / "docs/operations.md").read_text(), re.M)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


def test_no_prometheusrule_unless_enabled_and_its_crd_exists():
    assert not [o for o in render(*RULE_API) if o["kind"] == "PrometheusRule"]
    assert not [o for o in render(*ENABLED) if o["kind"] == "PrometheusRule"], "no CRD, no object"
    labelled = find(render(*RULE_API, *ENABLED, "--set", "metrics.prometheusRule.additionalLabels.release=kps"),
                    "PrometheusRule")
    assert labelled["metadata"]["labels"]["release"] == "kps"


def test_the_alerts_the_operations_guide_promises():
    assert {r["alert"] for r in rules()} == {
        "FriendlyhelloCounterDegraded", "FriendlyhelloRedisDown", "FriendlyhelloHighErrorRate",
        "FriendlyhelloHighLatency", "FriendlyhelloWebPodsUnavailable"}


def test_every_rule_keeps_to_the_release_and_links_its_runbook():
    for rule in rules():
        selectors = METRIC.findall(rule["expr"])
        assert selectors, rule["expr"]
        for name, labels in selectors:
            assert 'namespace="ns"' in labels and 'service="rel-friendlyhello"' in labels, (rule["alert"], name)
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]
        base, anchor = annotations["runbook_url"].split("#")
        assert base.endswith("/docs/operations.md") and anchor == rule["alert"].lower()
        assert anchor in anchors(), f"docs/operations.md has no section for {rule['alert']}"
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_thresholds_and_durations_are_the_values():
    by_name = {r["alert"]: r for r in rules(
        "--set-json", "metrics.alerts.errorRate.ratio=0.2", "--set", "metrics.alerts.errorRate.for=3m",
        "--set-json", "metrics.alerts.latency.p99Seconds=1.5", "--set", "metrics.alerts.counterDegraded.for=30s",
        "--set", "podDisruptionBudget.minAvailable=2")}
    assert by_name["FriendlyhelloHighErrorRate"]["expr"].rstrip().endswith("> 0.2")
    assert by_name["FriendlyhelloHighErrorRate"]["for"] == "3m"
    assert by_name["FriendlyhelloHighLatency"]["expr"].rstrip().endswith("> 1.5")
    assert by_name["FriendlyhelloCounterDegraded"]["for"] == "30s"
    assert by_name["FriendlyhelloWebPodsUnavailable"]["expr"].endswith("< 2")


@pytest.mark.parametrize("values, error", [
    (["--set", "metrics.serviceMonitor.enabled=false"], "needs metrics.serviceMonitor.enabled"),
    (["--set", "podDisruptionBudget.minAvailable=50%"], "podDisruptionBudget.minAvailable as a number"),
])
def test_rules_that_could_not_work_are_refused(values, error):
    with pytest.raises(AssertionError, match=error):
        render(*RULE_API, *ENABLED, *values)


@pytest.mark.parametrize("value", ["metrics.alerts.errorRate.ratio=2", "metrics.alerts.latency.for=ten",
                                   "metrics.alerts.redisDown.nope=1"])
def test_the_schema_refuses_a_bad_threshold(value):
    with pytest.raises(AssertionError, match=value.split("=")[0].rsplit(".", 1)[0].split(".")[-1]):
        render("--set", value)


def test_the_plain_rules_file_holds_the_same_rules():
    plain = yaml.safe_load((ROOT / "k8s/prometheus-rules.yaml").read_text())
    assert {r["alert"] for g in plain["groups"] for r in g["rules"]} == {r["alert"] for r in rules()}


def test_the_dashboard_is_a_configmap_for_grafanas_sidecar_and_queries_the_release():
    assert not [o for o in render() if o["metadata"]["name"].endswith("-dashboard")]
    config_map = find(render("--set", "metrics.dashboard.enabled=true"), "ConfigMap", "-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["friendlyhello.json"])
    assert dashboard == json.loads((ROOT / "chart/files/dashboard.json").read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {"Requests by status", "Page latency", "Web pods cut off from Redis", "Visits", "Redis errors",
            "Web pods up"} == titles
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for _, labels in METRIC.findall(target["expr"]):
                assert 'namespace="$namespace"' in labels and 'service="$service"' in labels, target["expr"]


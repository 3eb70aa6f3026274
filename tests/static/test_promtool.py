"""promtool (pinned, built from the Prometheus module) on the alert rules as
shipped (k8s/prometheus-rules.yaml, which hack/manifests.sh renders from the
chart): they load; each alert fires on the series it is written for, after
its `for`, and stays silent on what must not wake anyone (a short blip, a
single failed request, one missed scrape); a rule on a wrong metric fails its
test. Every query of the dashboard parses as PromQL."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, dashboard_queries, tool

RULES = ROOT / "k8s/prometheus-rules.yaml"
# The release the shipped rules keep to (hack/manifests.sh renders the defaults).
RELEASE = 'namespace="friendlyhello", service="friendlyhello"'


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def shipped_rules() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def firing(alert: str, **labels: str) -> dict:
    """The alert as promtool reports it firing: the rule's labels and the
    series' LABELS, its annotations with the series' labels filled in."""
    rule = shipped_rules()[alert]
    annotations = {key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], value)
                   for key, value in rule["annotations"].items()}
    return {"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}


def series(name: str, values: str, **labels: str) -> dict:
    selector = ", ".join([RELEASE, *(f'{key}="{value}"' for key, value in labels.items())])
    return {"series": f"{name}{{{selector}}}", "values": values}


def requests(status: str, values: str) -> dict:
    return series("friendlyhello_http_requests_total", values, pod="web-a", method="GET", route="/",
                  status=status)


def buckets(seconds_per_request: float, count: int = 30) -> list[dict]:
    """Request duration buckets of 100 page answers a minute, each taking SECONDS_PER_REQUEST."""
    return [series("friendlyhello_http_request_duration_seconds_bucket",
                   f"0+{100 if le == '+Inf' or float(le) >= seconds_per_request else 0}x{count}",
                   pod="web-a", method="GET", route="/", le=le)
            for le in ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")]


# alert: (input series, minutes at which to evaluate, alerts expected then) per case.
CASES = {
    "counter degraded for 7 minutes": (
        "FriendlyhelloCounterDegraded",
        [series("friendlyhello_counter_degraded", "1x10", pod="web-a"),
         series("friendlyhello_counter_degraded", "0x10", pod="web-b")],
        7, [firing("FriendlyhelloCounterDegraded", namespace="friendlyhello", pod="web-a")]),
    "counter degraded, still within its for": (
        "FriendlyhelloCounterDegraded", [series("friendlyhello_counter_degraded", "1x10", pod="web-a")], 3, []),
    "counter degraded for two minutes, then back": (
        "FriendlyhelloCounterDegraded",
        [series("friendlyhello_counter_degraded", "0 1 1 0 0 0 0 0 0 0", pod="web-a")], 8, []),
    "every pod degraded": (
        "FriendlyhelloRedisDown",
        [series("friendlyhello_counter_degraded", "1x10", pod="web-a"),
         series("friendlyhello_counter_degraded", "1x10", pod="web-b")],
        5, [firing("FriendlyhelloRedisDown")]),
    "one pod of two degraded": (
        "FriendlyhelloRedisDown",
        [series("friendlyhello_counter_degraded", "1x10", pod="web-a"),
         series("friendlyhello_counter_degraded", "0x10", pod="web-b")], 5, []),
    "one answer in eleven a 500": (
        "FriendlyhelloHighErrorRate", [requests("200", "0+100x30"), requests("500", "0+10x30")],
        20, [firing("FriendlyhelloHighErrorRate")]),
    "a single failed request": (
        "FriendlyhelloHighErrorRate", [requests("200", "0+100x30"), requests("500", "0 1x30")], 20, []),
    "every answer takes 0.8 s": ("FriendlyhelloHighLatency", buckets(0.8), 20, [firing("FriendlyhelloHighLatency")]),
    "every answer takes 0.08 s": ("FriendlyhelloHighLatency", buckets(0.08), 20, []),
    "no web pod answers scrapes": (
        "FriendlyhelloWebPodsUnavailable", [series("up", "0x10", pod="web-a")],
        7, [firing("FriendlyhelloWebPodsUnavailable")]),
    "no web pod scraped at all": (
        "FriendlyhelloWebPodsUnavailable", [series("up", "1 1 stale", pod="web-a")],
        9, [firing("FriendlyhelloWebPodsUnavailable")]),
    "two scrapes missed": (
        "FriendlyhelloWebPodsUnavailable", [series("up", "1 1 0 0 1 1 1 1 1 1", pod="web-a")], 9, []),
}


def rule_test_file(directory: Path, rules: Path, cases: dict) -> Path:
    tests = [{"name": name, "interval": "1m", "input_series": inputs,
              "alert_rule_test": [{"eval_time": f"{minutes}m", "alertname": alert, "exp_alerts": expected}]}
             for name, (alert, inputs, minutes, expected) in cases.items()]
    path = directory / "alerts.test.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests},
                                   sort_keys=False))
    return path


def test_the_shipped_rules_load():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(shipped_rules())} rules found" in result.stdout


def test_every_alert_has_a_case_that_fires_and_one_that_stays_silent():
    fires = {alert for alert, _, _, expected in CASES.values() if expected}
    silent = {alert for alert, _, _, expected in CASES.values() if not expected}
    assert fires == silent == set(shipped_rules())


def test_each_alert_fires_when_it_should_and_only_then(tmp_path):
    result = promtool("test", "rules", str(rule_test_file(tmp_path, RULES, CASES)))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("alert,metric", [("FriendlyhelloCounterDegraded", "friendlyhello_counter_degraded"),
                                          ("FriendlyhelloHighErrorRate", "friendlyhello_http_requests_total")])
def test_a_rule_on_a_wrong_metric_fails_its_test(tmp_path, alert, metric):
    """The tests above have teeth: the same rules with one alert's metric
    misspelt fail, and promtool names that alert."""
    groups = yaml.safe_load(RULES.read_text())
    for rule in groups["groups"][0]["rules"]:
        if rule["alert"] == alert:
            rule["expr"] = rule["expr"].replace(metric, metric + "_misspelt")
    broken = tmp_path / "broken-rules.yaml"
    broken.write_text(yaml.safe_dump(groups))
    assert promtool("check", "rules", str(broken)).returncode == 0, "still valid PromQL"
    result = promtool("test", "rules", str(rule_test_file(tmp_path, broken, CASES)))
    assert result.returncode != 0, result.stdout
    assert f"alertname: {alert}" in result.stdout + result.stderr, result.stdout + result.stderr


def test_every_dashboard_query_parses(tmp_path):
    """Grafana's variables filled in as it would ($__rate_interval: a range),
    each query a recording rule for promtool to check."""
    queries = dashboard_queries("friendlyhello", "friendlyhello")
    assert len(queries) >= 8
    rules = [{"record": f"friendlyhello:dashboard_query_{number}", "expr": query}
             for number, query in enumerate(queries)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not any("$" in rule["expr"] for rule in rules), "every variable filled in"

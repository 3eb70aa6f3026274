"""Helpers of the no-cluster checks: the chart's scenarios, and rendering to objects."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support import CHART, helm

SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))


def render(*args: str, chart: Path = CHART, release: str = "rel") -> list[dict]:
    """`helm template` of the chart, as a list of objects (tests included)."""
    result = helm("template", release, str(chart), "--namespace", "ns", *args, check=False)
    if result.returncode != 0:
        raise AssertionError(f"helm template failed: {result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict], kind: str, name_suffix: str = "") -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]
    assert len(matches) == 1, f"{kind} *{name_suffix}: {[o['metadata']['name'] for o in matches]}"
    return matches[0]


def pod_specs(objects: list[dict]) -> list[tuple[str, dict]]:
    specs = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            specs.append((obj["metadata"]["name"], obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "Pod":
            specs.append((obj["metadata"]["name"], obj["spec"]))
    return specs

"""Fixtures for the chart tests: the pinned helm, and rendering to objects."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.conftest import ROOT, missing_prerequisite

CHART = ROOT / "chart"
TOOLS = ROOT / ".tools" / "bin"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))


def tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():
        missing_prerequisite(f"{name} is not installed in .tools/bin (make tools)")
    return str(path)


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([tool("helm"), *args], capture_output=True, text=True, check=check,
                          timeout=120)


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

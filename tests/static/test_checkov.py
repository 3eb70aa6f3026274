"""checkov's policy checks on the rendered chart and the Dockerfile: no failures.

A check may be skipped only with a written reason, as a checkov.io/skip
annotation in the chart or a `#checkov:skip=` comment in the Dockerfile.
"""

import json
import subprocess

import pytest

from tests.static.chart import SCENARIOS, render
from tests.support import ROOT, tool


def checkov(*args: str) -> dict:
    result = subprocess.run([tool("checkov"), "--quiet", "--compact", "--output", "json",
                             "--skip-download", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def failed(report: dict) -> list[str]:
    return [f"{c['check_id']} {c['check_name']} ({c['resource']})"
            for c in report.get("results", {}).get("failed_checks", [])]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_rendered_chart_passes(tmp_path, scenario):
    import yaml

    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(yaml.safe_dump_all(render("-f", str(scenario))))
    report = checkov("--framework", "kubernetes", "--file", str(manifests))
    assert report["summary"]["passed"] > 20, "checkov ran its Kubernetes checks"
    assert not failed(report), "\n".join(failed(report))


def test_dockerfile_passes():
    report = checkov("--framework", "dockerfile", "--file", str(ROOT / "Dockerfile"))
    assert report["summary"]["passed"] > 0
    assert not failed(report), "\n".join(failed(report))

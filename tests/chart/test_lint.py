"""helm lint --strict and chart-testing's lint, for every scenario."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chart.conftest import CHART, SCENARIOS, helm, tool
from tests.conftest import ROOT

pytestmark = pytest.mark.chart


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_helm_lint_strict(scenario):
    result = helm("lint", "--strict", str(CHART), "-f", str(scenario), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_chart_testing_lint():
    """ct lint: Chart.yaml schema, yamllint of Chart.yaml and values.yaml, and
    helm lint of every ci/*-values.yaml scenario."""
    ct = tool("ct")
    version_dir = sorted((ROOT / ".tools/etc/ct").glob("v*"))[-1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{Path(tool('helm')).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [ct, "lint", "--charts", str(CHART), "--validate-maintainers=false",
         "--check-version-increment=false", "--chart-yaml-schema", str(version_dir / "chart_schema.yaml"),
         "--lint-conf", str(version_dir / "lintconf.yaml")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All charts linted successfully" in output
    for scenario in SCENARIOS:
        assert scenario.name in output, f"ct did not lint with {scenario.name}"

"""helm lint --strict and chart-testing's lint, for every scenario; shellcheck
of the scripts that build and run all of it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.static.chart import SCENARIOS
from tests.support import CHART, PINNED, ROOT, helm, require_program, tool


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_helm_lint_strict(scenario):
    result = helm("lint", "--strict", str(CHART), "-f", str(scenario), check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_helm3_lint_strict(scenario):
    """The chart supports Helm 3 as well (most users still run it)."""
    result = subprocess.run([tool("helm3"), "lint", "--strict", str(CHART), "-f", str(scenario)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_chart_testing_lint():
    """ct lint: Chart.yaml schema, yamllint of Chart.yaml and values.yaml, and
    helm lint of every ci/*-values.yaml scenario."""
    ct = tool("ct")
    version_dir = ROOT / ".tools/etc/ct" / PINNED["CHART_TESTING_VERSION"]
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


def shell_scripts() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "hack", ".ci", "bench"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed
            if (ROOT / name).is_file() and (ROOT / name).read_text(errors="replace").startswith("#!/usr/bin/env bash")]


def test_shellcheck_passes_on_every_script():
    scripts = shell_scripts()
    assert ROOT / ".ci/run" in scripts and ROOT / "hack/lib.sh" not in scripts
    result = subprocess.run([require_program("shellcheck"), "--external-sources", "--source-path=SCRIPTDIR",
                             "--severity=warning", *map(str, scripts)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_script_stops_or_disables_a_service():
    """The scripts may start Docker's packaged unit; they stop, disable or mask nothing."""
    offending = []
    for script in sorted((ROOT / "hack").rglob("*")):
        if script.is_file() and script.suffix in ("", ".sh"):
            for number, line in enumerate(script.read_text(errors="replace").splitlines(), 1):
                code = line.split("#", 1)[0]
                # --root= acts on an image being built, not on this host.
                if (re.search(r"systemctl\s+(?:\S+\s+)*(stop|disable|mask|kill)\b", code)
                        and "--root=" not in code and "undo:" not in line):
                    offending.append(f"{script.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offending, offending

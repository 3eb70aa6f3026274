"""The GitHub workflow is valid (actionlint) and runs what `make test` runs:
the same suites, which together select every test exactly once."""

import re
import subprocess
import sys

import pytest
import yaml

from tests.chart.conftest import tool
from tests.conftest import ROOT

pytestmark = pytest.mark.chart

WORKFLOW = ROOT / ".github/workflows/ci.yaml"
MAKEFILE = (ROOT / "Makefile").read_text()


def suites() -> list[str]:
    return re.search(r"^TEST_SUITES := (.+)$", MAKEFILE, re.M).group(1).split()


def workflow_make_targets() -> list[str]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    targets = []
    for job in jobs.values():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                if line.strip().startswith("make "):
                    targets += line.split()[1:]
    return targets


def test_actionlint_accepts_the_workflows():
    result = subprocess.run([tool("actionlint"), "-no-color"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_test_is_the_suites_and_ci_runs_it():
    assert re.search(r"^test: prepare \$\(TEST_SUITES\) ##", MAKEFILE, re.M), "make test prepares, then runs exactly TEST_SUITES"
    ci_commands = [line for line in (ROOT / ".ci/run").read_text().splitlines()
                   if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert ci_commands == ["make test"]


def test_workflow_runs_every_suite_once():
    assert sorted(workflow_make_targets()) == sorted(suites())


def collected(*selection: str) -> set[str]:
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             *selection], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_suites_select_every_test_exactly_once():
    recipes = {name: re.search(rf"^{name}:.*\n\t\$\(PYTEST\) (.+)$", MAKEFILE, re.M).group(1).split()
               for name in suites()}
    selected = {name: collected(*args) for name, args in recipes.items()}
    everything = collected("tests")
    for name, tests in selected.items():
        assert tests, f"{name} selects no test"
    union = set().union(*selected.values())
    assert union == everything, f"selected by no suite: {sorted(everything - union)[:10]}"
    assert sum(map(len, selected.values())) == len(everything), "a test is selected by two suites"


def prerequisites(target: str) -> set[str]:
    line = re.search(rf"^{target}:([^#\n]*)", MAKEFILE, re.M).group(1)
    return set(line.split())


def test_prepare_builds_what_every_suite_needs():
    """`make prepare` builds side by side what the suites would otherwise build
    one after another; the cluster itself is created by test-cluster."""
    prepared = set(re.search(r"^prepare:.*\n\t@\$\(MAKE\) -j\d+ (.+)$", MAKEFILE, re.M).group(1).split())
    needed = set().union(*(prerequisites(name) for name in suites())) - {"cluster"}
    needed |= prerequisites("cluster") | {"node-image"}
    # `tools` builds every tool-X at once.
    needed = {"tools" if name.startswith("tool-") else name for name in needed}
    assert needed <= prepared, f"make prepare does not build {sorted(needed - prepared)}"

"""The pinned tools are what their releases are: each version command shows
the pinned version (not a placeholder of a plain `go build`), Helm 3 and Helm 4
render the chart with their own default Kubernetes version, and each make
target asks only for the tools it runs."""

import re
import subprocess

import pytest

from tests.chart.conftest import CHART
from tests.chart.test_versions import PINNED
from tests.conftest import ROOT, missing_prerequisite

pytestmark = pytest.mark.chart

TOOLS = ROOT / ".tools"
MAKEFILE = (ROOT / "Makefile").read_text()

# tool: (binary under .tools, version command, pinned version key, what it must print)
VERSION_COMMANDS = {
    "helm": ("bin/helm", ["version"], "HELM_VERSION", 'Version:"{v}"'),
    "helm3": ("helm3/helm", ["version"], "HELM3_VERSION", 'Version:"{v}"'),
    "kind": ("bin/kind", ["version"], "KIND_VERSION", "kind {v} "),
    "ct": ("bin/ct", ["version"], "CHART_TESTING_VERSION", "Version:\t {v}\n"),
    "docker-compose": ("bin/docker-compose", ["version"], "COMPOSE_VERSION", "Docker Compose version {v}"),
    "skaffold": ("bin/skaffold", ["version"], "SKAFFOLD_VERSION", "{v}\n"),
    "actionlint": ("bin/actionlint", ["-version"], "ACTIONLINT_VERSION", "{n}\n"),
    "registry": ("bin/registry", ["--version"], "DISTRIBUTION_VERSION", "github.com/distribution/distribution/v3 {n}"),
    "vegeta": ("bin/vegeta", ["-version"], "VEGETA_VERSION", "Version: {v}\n"),
}


def tool_path(relative: str):
    path = TOOLS / relative
    if not path.exists():
        missing_prerequisite(f".tools/{relative} is not installed (make tools)")
    return path


@pytest.mark.parametrize("name", VERSION_COMMANDS)
def test_tool_reports_its_pinned_version(name):
    relative, args, key, expected = VERSION_COMMANDS[name]
    output = subprocess.run([str(tool_path(relative)), *args], capture_output=True, text=True,
                            timeout=60).stdout
    version = PINNED[key]
    assert expected.format(v=version, n=version.lstrip("v")) in output, output


def test_ct_and_helm_carry_release_metadata():
    """What a plain `go build` leaves out: ct's 'unreleased', skaffold's empty line."""
    ct = subprocess.run([str(tool_path("bin/ct")), "version"], capture_output=True, text=True, timeout=60).stdout
    assert "unreleased" not in ct and not re.search(r"Git commit:\s+unknown", ct), ct
    helm = subprocess.run([str(tool_path("bin/helm")), "version"], capture_output=True, text=True, timeout=60).stdout
    assert 'GitTreeState:"clean"' in helm, helm


@pytest.mark.parametrize("helm", ["bin/helm", "helm3/helm"])
def test_each_helm_renders_the_chart_without_kube_version(helm):
    """The chart needs Kubernetes >= 1.30; a Helm 3 built without its release
    flags assumes 1.20 and refuses it."""
    result = subprocess.run([str(tool_path(helm)), "template", "rel", str(CHART)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "kind: Deployment" in result.stdout


def prerequisite_tools(target: str) -> set[str]:
    line = re.search(rf"^{target}:([^#\n]*)", MAKEFILE, re.M).group(1)
    return {word[len("tool-"):] for word in line.split() if word.startswith("tool-")}


@pytest.mark.parametrize("target, tools", [
    ("up", {"helm", "kind"}),
    ("cluster", {"kind"}),
    ("dev", {"skaffold", "helm3"}),
    ("manifests", {"helm"}),
    ("compose-up", {"docker-compose"}),
    ("test-image", {"docker-compose"}),
    ("lint", {"helm", "helm3", "ct", "actionlint", "checkov"}),
    ("bench", {"vegeta"}),
])
def test_targets_build_only_the_tools_they_run(target, tools):
    assert prerequisite_tools(target) == tools
    assert not re.search(rf"^{target}:[^\n]*\btools\b", MAKEFILE, re.M), f"{target} builds every tool"

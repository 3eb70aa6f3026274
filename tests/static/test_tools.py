"""The pinned tools are what their releases are: each version command shows
the pinned version (not a placeholder of a plain `go build`), Helm 3 and Helm 4
render the chart with their own default Kubernetes version, and each make
target asks only for the tools it runs. Where hack/tools.sh linked one of
yours instead (helm, kind, kubectl of a supported version), it says so, and
an unsupported one is not used."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import CHART, PINNED, ROOT, missing_prerequisite, tool_source

TOOLS = ROOT / ".tools"
MAKEFILE = (ROOT / "Makefile").read_text()

# tool: (binary under .tools, version command, pinned version key, what it must print)
VERSION_COMMANDS = {
    "helm": ("bin/helm", ["version"], "HELM_VERSION", 'Version:"{v}"'),
    "helm3": ("helm3/helm", ["version"], "HELM3_VERSION", 'Version:"{v}"'),
    "kind": ("bin/kind", ["version"], "KIND_VERSION", "kind {v} "),
    "kubectl": ("bin/kubectl", ["version", "--client"], "KUBERNETES_VERSION", "Client Version: {v}\n"),
    "ct": ("bin/ct", ["version"], "CHART_TESTING_VERSION", "Version:\t {v}\n"),
    "docker-compose": ("bin/docker-compose", ["version"], "COMPOSE_VERSION", "Docker Compose version {v}"),
    "skaffold": ("bin/skaffold", ["version"], "SKAFFOLD_VERSION", "{v}\n"),
    "actionlint": ("bin/actionlint", ["-version"], "ACTIONLINT_VERSION", "{n}\n"),
    "registry": ("bin/registry", ["--version"], "DISTRIBUTION_VERSION", "github.com/distribution/distribution/v3 {n}"),
    "vegeta": ("bin/vegeta", ["-version"], "VEGETA_VERSION", "Version: {v}\n"),
    "cosign": ("bin/cosign", ["version"], "COSIGN_VERSION", "GitVersion:    {v}\n"),
    "crane": ("bin/crane", ["version"], "CRANE_VERSION", "{v}\n"),
    "syft": ("bin/syft", ["version"], "SYFT_VERSION", "Version:       {n}\n"),
    "kube-score": ("bin/kube-score", ["version"], "KUBE_SCORE_VERSION", "kube-score version: {n},"),
    "promtool": ("bin/promtool", ["--version"], "PROMETHEUS_VERSION", "promtool, version {n} "),
}


def tool_path(relative: str):
    path = TOOLS / relative
    if not path.exists():
        missing_prerequisite(f".tools/{relative} is not installed (make tools)")
    return path


def built(name: str) -> bool:
    return tool_source(name).startswith("built ")


@pytest.mark.parametrize("name", VERSION_COMMANDS)
def test_tool_reports_its_pinned_version(name):
    relative, args, key, expected = VERSION_COMMANDS[name]
    output = subprocess.run([str(tool_path(relative)), *args], capture_output=True, text=True,
                            timeout=60).stdout
    version = PINNED[key]
    if built(name):
        assert expected.format(v=version, n=version.lstrip("v")) in output, output
    else:  # one of yours, at a version tools.sh supports (test_a_tool_on_path_...)
        found = tool_source(name).rsplit(" ", 1)[1]
        assert name in ("helm", "kind", "kubectl") and found.lstrip("v") in output, (tool_source(name), output)


def test_ct_and_helm_carry_release_metadata():
    """What a plain `go build` leaves out: ct's 'unreleased', helm's tree state."""
    ct = subprocess.run([str(tool_path("bin/ct")), "version"], capture_output=True, text=True, timeout=60).stdout
    assert "unreleased" not in ct and not re.search(r"Git commit:\s+unknown", ct), ct
    if built("helm"):
        helm = subprocess.run([str(tool_path("bin/helm")), "version"], capture_output=True, text=True,
                              timeout=60).stdout
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
    """The tools TARGET names: its $(HELM)-style prerequisites, by the stamps they stand for."""
    stamps = dict(re.findall(r"^([A-Z0-9_]+) := \$\(STAMPS\)/([a-z0-9-]+)@", MAKEFILE, re.M))
    words = re.search(rf"^{target}:([^#\n]*)", MAKEFILE, re.M).group(1).split()
    if "$(TOOLS)" in words:
        words += re.search(r"^TOOLS := (.+)$", MAKEFILE, re.M).group(1).split()
    return {stamps[word[2:-1]] for word in words if word[2:-1] in stamps}


@pytest.mark.parametrize("target, tools", [
    ("up", {"kind", "kubectl", "helm"}),
    ("cluster", {"kind", "kubectl"}),
    ("browse", {"kubectl"}),
    ("down", {"kind", "kubectl"}),
    ("dev", {"skaffold", "helm3"}),
    ("manifests", {"helm"}),
    ("compose-up", {"docker-compose"}),
    ("test-image", {"docker-compose"}),
    ("lint", {"helm", "helm3", "ct", "actionlint", "checkov", "kube-score"}),
    ("bench", {"vegeta"}),
    ("test-unit", {"vegeta"}),
    ("test-static", set(VERSION_COMMANDS) | {"checkov"}),  # it checks every one
    # and cluster's; its last tests make skaffold, cosign, crane and syft where
    # missing (tests/support.py's tool(), make release)
    ("test-cluster", {"helm", "helm3", "ct", "docker-compose", "registry"}),
    ("release", {"helm", "cosign", "crane", "syft"}),
])
def test_targets_build_only_the_tools_they_run(target, tools):
    assert prerequisite_tools(target) == tools
    assert not re.search(rf"^{target}:[^\n]*\btools\b", MAKEFILE, re.M), f"{target} builds every tool"


def path_with(yours) -> str:
    """PATH for a scratch run: YOURS first, then only what tools.sh itself runs (Go, Python, coreutils)."""
    go = shutil.which("go")
    return ":".join([str(yours), *([str(Path(go).parent)] if go else []), str(Path(sys.executable).parent),
                     "/usr/bin", "/bin"])


def tools_sh(repo, yours, *names: str) -> subprocess.CompletedProcess:
    """REPO's hack/tools.sh with nothing on PATH but YOURS and what it runs itself."""
    return subprocess.run([str(repo / "hack/tools.sh"), *names], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": path_with(yours)})


def scratch_repository(tmp_path, versions_env: str | None = None):
    """A copy of hack/ (and its pins) whose .tools/ is its own."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "hack", repo / "hack")
    if versions_env is not None:
        (repo / "hack/versions.env").write_text(versions_env)
    return repo


def test_a_tool_on_path_of_a_supported_version_is_used_and_said(tmp_path):
    """helm, kind and kubectl of yours: linked, one line each, nothing built."""
    yours = tmp_path / "yours"
    yours.mkdir()
    for name in ("helm", "kind", "kubectl"):
        shutil.copy(tool_path(f"bin/{name}").resolve(), yours / name)
    repo = scratch_repository(tmp_path)
    result = tools_sh(repo, yours, "helm", "kind", "kubectl")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "using yours" in line]
    assert len(lines) == 3, result.stderr
    for name in ("helm", "kind", "kubectl"):
        assert any(f"{name}: using yours, {yours / name}" in line for line in lines), result.stderr
        assert (repo / ".tools/bin" / name).resolve() == yours / name
    assert "building" not in result.stderr


def test_a_tool_on_path_of_an_unsupported_version_is_not_used(tmp_path):
    """Helm 3 below the tested minor: refused, and the pinned Helm is built
    (a pin no module has, so the build fails at once)."""
    yours = tmp_path / "yours"
    yours.mkdir()
    shutil.copy(tool_path("helm3/helm").resolve(), yours / "helm")
    pins = (ROOT / "hack/versions.env").read_text()
    newer = re.sub(r"^HELM3_VERSION=v3\.(\d+)\.", lambda m: f"HELM3_VERSION=v3.{int(m.group(1)) + 1}.", pins,
                   flags=re.M)
    missing = re.sub(r"^HELM_VERSION=.*$", "HELM_VERSION=v4.0.0-no-such-release", newer, flags=re.M)
    repo = scratch_repository(tmp_path, missing)
    result = tools_sh(repo, yours, "helm")
    assert result.returncode != 0
    assert f"helm: yours, {yours / 'helm'} ({PINNED['HELM3_VERSION']}), is not supported" in result.stderr, \
        result.stderr
    assert "building helm.sh/helm/v4" in result.stderr
    assert not (repo / ".tools/bin/helm").exists()

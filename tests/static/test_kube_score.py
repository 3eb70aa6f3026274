"""kube-score (pinned, hack/tools.sh) finds nothing critical in the chart's
defaults, its `helm test` pod included, but the one deliberate choice: the
image is pulled IfNotPresent (the tag is immutable, and kind loads it)."""

import subprocess

from tests.support import CHART, helm, tool

# kube-score's id of the check the chart departs from on purpose.
DELIBERATE = "container-image-pull-policy"


def kube_score(*args: str) -> subprocess.CompletedProcess:
    rendered = helm("template", "rel", str(CHART)).stdout
    return subprocess.run([tool("kube-score"), "score", "--output-format", "ci", *args, "-"], input=rendered,
                          capture_output=True, text=True, timeout=120)


def critical(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("[CRITICAL]")]


def test_the_defaults_have_no_critical_finding_but_the_pull_policy():
    result = kube_score("--ignore-test", DELIBERATE)
    assert critical(result) == [] and result.returncode == 0, result.stdout + result.stderr


def test_the_pull_policy_is_the_one_finding_ignored():
    """Without the exception kube-score does report it (for each container
    the chart runs): what the test above ignores is that and nothing else."""
    findings = critical(kube_score())
    assert findings and all("ImagePullPolicy" in line for line in findings), findings

"""The chart's life cycle with each Helm the project supports: install,
upgrade, `helm test --logs`, uninstall, with Helm 4 and with Helm 3."""

import pytest

from tests.cluster.conftest import CONTEXT, CHART, ROOT, run
from tests.conftest import missing_prerequisite

pytestmark = pytest.mark.cluster

HELMS = {"helm4": ROOT / ".tools/bin/helm", "helm3": ROOT / ".tools/helm3/helm"}


@pytest.mark.parametrize("helm_name", sorted(HELMS))
def test_install_upgrade_test_uninstall(helm_name, namespace, image_values, core):
    binary = HELMS[helm_name]
    if not binary.exists():
        missing_prerequisite(f"{binary.relative_to(ROOT)} is not installed (make tools)")

    def helm(*args, timeout=420):
        return run(str(binary), "--kube-context", CONTEXT, "--namespace", namespace, *args, timeout=timeout)

    version = helm("version", "--template", "{{.Version}}").stdout
    assert version.startswith("v4." if helm_name == "helm4" else "v3."), version
    helm("upgrade", "--install", "rel", str(CHART), *image_values, "--wait", "--timeout", "5m")
    helm("upgrade", "rel", str(CHART), *image_values, "--set", "app.name=Upgraded", "--wait", "--timeout", "5m")
    logs = helm("test", "rel", "--logs", "--timeout", "3m", timeout=240).stdout
    assert "counter path ok" in logs, logs
    helm("uninstall", "rel", "--wait", "--timeout", "2m")
    assert not [p for p in core.list_namespaced_pod(namespace).items
                if p.metadata.labels.get("app.kubernetes.io/component") in ("web", "redis")
                and p.metadata.deletion_timestamp is None]

"""The chart's life cycle with each Helm the project supports: install,
upgrade, `helm test --logs`, uninstall, with Helm 4 and with Helm 3; the
uninstall leaves only Redis's volume, which holds the count."""

import pytest

from tests.cluster.kube import CONTEXT, kubectl
from tests.support import CHART, missing_prerequisite, run, tool, tool_source, wait_until


@pytest.mark.parametrize("helm_name", ["helm4", "helm3"])
def test_install_upgrade_test_uninstall(helm_name, namespace, image_values, core):
    binary = tool("helm" if helm_name == "helm4" else "helm3")
    # .tools/bin/helm is yours where yours is supported: a Helm 3 then leaves Helm 4 untested.
    if helm_name == "helm4" and not tool_source("helm").rsplit(" ", 1)[1].startswith("v4."):
        missing_prerequisite(f"no Helm 4 in .tools/bin ({tool_source('helm')}): remove yours from PATH")

    def helm(*args, timeout=420):
        return run(binary, "--kube-context", CONTEXT, "--namespace", namespace, *args, timeout=timeout)

    version = helm("version", "--template", "{{.Version}}").stdout
    assert version.startswith("v4." if helm_name == "helm4" else "v3."), version
    helm("upgrade", "--install", "rel", str(CHART), *image_values, "--wait", "--timeout", "5m")
    helm("upgrade", "rel", str(CHART), *image_values, "--set", "app.name=Upgraded", "--wait", "--timeout", "5m")
    logs = helm("test", "rel", "--logs", "--timeout", "3m", timeout=240).stdout
    assert "counter path ok" in logs, logs
    helm("uninstall", "rel", "--wait", "--timeout", "2m")

    def leftovers():
        kinds = "all,configmap,secret,pvc,networkpolicy,pdb,serviceaccount,ingress,hpa"
        names = kubectl("-n", namespace, "get", kinds, "-o", "name").stdout.split()
        # The helm test pod stays until the next `helm test` or the namespace
        # goes: Helm 3's `helm test --logs` reads it after the run.
        ignored = ("kube-root-ca.crt", "serviceaccount/default", "pod/rel-friendlyhello-test-counter")
        return sorted(name for name in names if not any(part in name for part in ignored))

    expected = ["persistentvolumeclaim/data-rel-friendlyhello-redis-0"]
    wait_until(lambda: leftovers() == expected, timeout=90, interval=2,
               message=f"only {expected} left after uninstall, not {leftovers()}")

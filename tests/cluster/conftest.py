"""Fixtures for the tests on the kind cluster: the API client, the images,
a namespace per test (with events, pod descriptions and logs printed when the
test fails) and a helm release in it (tests/cluster/kube.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.cluster.kube import CONTEXT, Release, dump_namespace, helm
from tests.support import ROOT, missing_prerequisite, run


@pytest.fixture(scope="session")
def api():
    """The kubernetes client for the cluster; the cluster must exist (make cluster)."""
    from kubernetes import client, config

    try:
        api_client = config.new_client_from_config(context=CONTEXT)
        client.VersionApi(api_client).get_code()
    except Exception as error:  # noqa: BLE001 - any failure means no usable cluster
        missing_prerequisite(f"no kind cluster answers as context {CONTEXT} (make cluster): {error}")
    return api_client


@pytest.fixture(scope="session")
def core(api):
    from kubernetes import client

    return client.CoreV1Api(api)


@pytest.fixture(scope="session")
def apps(api):
    from kubernetes import client

    return client.AppsV1Api(api)


@pytest.fixture(scope="session")
def image_values(api) -> list[str]:
    """helm --set values for the web and Redis images, loaded into the cluster."""
    values = run(str(ROOT / "hack/cluster-images.sh"), timeout=1800).stdout.split()
    return [arg for value in values for arg in ("--set", value)]


# Their tools and add-ons' images may still be building beside the suite
# (make test), in this order, so they come late; the documented commands end
# with `make down`, which deletes the cluster, so they come last.
LATE = ("test_skaffold.py", "test_release.py", "test_monitoring.py", "test_autoscaling.py", "test_docs.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: LATE.index(item.path.name) + 1 if item.path.name in LATE else 0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def namespace(request, core):
    from kubernetes import client

    name = f"fh-{request.node.name[5:30].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name)
    labels = getattr(request, "param", {}) or {}
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    yield name
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"\n===== namespace {name} after the failure =====\n{dump_namespace(name)}")
    helm("uninstall", "rel", "--namespace", name, "--wait", "--timeout", "2m", check=False)
    core.delete_namespace(name)


@pytest.fixture
def release(namespace, image_values) -> Release:
    return Release(namespace, image_values)

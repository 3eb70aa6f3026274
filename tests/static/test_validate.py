"""Every scenario's manifests validate, offline and strictly, against the
Kubernetes API schemas of the oldest and newest minor the chart supports."""

import pytest
import yaml

from tests.static.chart import SCENARIOS, render
from tests.support import CHART, PINNED

# The chart's kubeVersion floor, and the version the kind node runs.
KUBERNETES_VERSIONS = ["1.30.0", PINNED["KUBERNETES_VERSION"].lstrip("v")]


def test_oldest_version_is_the_charts_floor():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == f">={KUBERNETES_VERSIONS[0]}-0"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_manifests_validate(scenario, version):
    import kubernetes_validate

    objects = render("-f", str(scenario), "--kube-version", version)
    assert objects
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(f"{obj['kind']}/{obj['metadata']['name']} on {version}: {error}") from None

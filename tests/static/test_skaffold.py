"""skaffold.yaml names the same image, release, namespace, cluster and stand-ins
as hack/versions.env and hack/airgap/standins.env."""

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.chart


def env_file(path: str) -> dict[str, str]:
    lines = (ROOT / path).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_skaffold_matches_the_pinned_names():
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    pinned = env_file("hack/versions.env")
    standins = env_file("hack/airgap/standins.env")
    (artifact,) = config["build"]["artifacts"]
    assert artifact["image"] == pinned["IMAGE_REPOSITORY"]
    (release,) = config["manifests"]["helm"]["releases"]
    assert release["name"] == pinned["RELEASE_NAME"]
    namespace = '{{ env "FRIENDLYHELLO_NAMESPACE" | default "' + pinned["RELEASE_NAMESPACE"] + '" }}'
    assert release["namespace"] == namespace
    assert config["portForward"][0]["namespace"] == namespace
    assert release["chartPath"] == "chart"
    assert config["deploy"]["kubeContext"] == f"kind-{pinned['CLUSTER_NAME']}"
    assert config["portForward"][0]["resourceName"] == pinned["RELEASE_NAME"]
    assert config["portForward"][0]["localPort"] == int(pinned["BROWSE_PORT"])
    profiles = {profile["name"]: profile for profile in config["profiles"]}
    patches = {p["path"]: p["value"] for p in profiles["airgap"]["patches"]}
    assert patches["/build/artifacts/0/docker/buildArgs"]["BASE_IMAGE"] == standins["STANDIN_BASE_IMAGE"]
    redis = patches["/manifests/helm/releases/0/setValues"]
    assert f"{redis['redis.image.repository']}:{redis['redis.image.tag']}" == standins["STANDIN_REDIS_IMAGE"]


@pytest.mark.parametrize("profile", [None, "airgap", "dev", "airgap,dev"])
def test_skaffold_accepts_the_config(profile):
    """skaffold parses skaffold.yaml against its schema and applies the profile."""
    import subprocess

    from tests.chart.conftest import tool

    command = [tool("skaffold"), "diagnose", "--yaml-only"] + (["--profile", profile] if profile else [])
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    (artifact,) = config["build"]["artifacts"]
    build_args = artifact["docker"].get("buildArgs", {})
    if profile and "airgap" in profile:
        assert build_args["BASE_IMAGE"] == env_file("hack/airgap/standins.env")["STANDIN_BASE_IMAGE"]
    else:
        assert "BASE_IMAGE" not in build_args
    (release,) = config["manifests"]["helm"]["releases"]
    assert release["chartPath"].endswith("chart")
    if profile and "dev" in profile:
        assert artifact["docker"]["target"] == "dev"
        assert {rule["dest"] for rule in artifact["sync"]["manual"]} == {"/srv/app"}
        assert release["setValueTemplates"]["securityContext.readOnlyRootFilesystem"] == "false"
    else:
        assert "target" not in artifact["docker"] and "sync" not in artifact
    if profile and "airgap" in profile:
        assert release["setValues"]["redis.image.repository"] == "localhost/friendlyhello/redis"

"""skaffold.yaml names the same image, release, namespace and cluster as
hack/versions.env, and takes from the environment the images hack/skaffold.sh
resolves (the public ones, or the local stand-ins where no registry answers)."""

import re
import subprocess

import pytest
import yaml

from tests.support import PINNED, ROOT, tool

CONFIG = yaml.safe_load((ROOT / "skaffold.yaml").read_text())


def test_skaffold_matches_the_pinned_names():
    (artifact,) = CONFIG["build"]["artifacts"]
    assert artifact["image"] == PINNED["IMAGE_REPOSITORY"]
    (release,) = CONFIG["manifests"]["helm"]["releases"]
    assert release["name"] == PINNED["RELEASE_NAME"]
    namespace = '{{ env "FRIENDLYHELLO_NAMESPACE" | default "' + PINNED["RELEASE_NAMESPACE"] + '" }}'
    assert release["namespace"] == namespace
    assert CONFIG["portForward"][0]["namespace"] == namespace
    assert release["chartPath"] == "chart"
    assert CONFIG["deploy"]["kubeContext"] == f"kind-{PINNED['CLUSTER_NAME']}"
    assert CONFIG["portForward"][0]["resourceName"] == PINNED["RELEASE_NAME"]
    assert CONFIG["portForward"][0]["localPort"] == int(PINNED["BROWSE_PORT"])


def test_the_images_come_from_what_the_script_exports():
    (artifact,) = CONFIG["build"]["artifacts"]
    (release,) = CONFIG["manifests"]["helm"]["releases"]
    read = set(re.findall(r"\{\{\.([A-Z_]+)\}\}", yaml.safe_dump([artifact["docker"]["buildArgs"],
                                                                    release["setValueTemplates"]])))
    script = (ROOT / "hack/skaffold.sh").read_text()
    exported = set(re.findall(r"\b([A-Z_]+)=", re.search(r"^export BASE_IMAGE .*$", script, re.M).group(0)))
    exported.add("BASE_IMAGE")
    assert read == exported, f"skaffold.yaml reads {sorted(read)}, hack/skaffold.sh exports {sorted(exported)}"
    (secret,) = artifact["docker"]["secrets"]
    assert secret["src"] in script, "the CA bundle's file is the one hack/skaffold.sh writes"


@pytest.mark.parametrize("profile", [None, "dev"])
def test_skaffold_accepts_the_config(profile):
    """skaffold parses skaffold.yaml against its schema and applies the profile."""
    command = [tool("skaffold"), "diagnose", "--yaml-only"] + (["--profile", profile] if profile else [])
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    (artifact,) = config["build"]["artifacts"]
    (release,) = config["manifests"]["helm"]["releases"]
    assert release["chartPath"].endswith("chart")
    if profile == "dev":
        assert artifact["docker"]["target"] == "dev"
        assert {rule["dest"] for rule in artifact["sync"]["manual"]} == {"/srv/app"}
        assert release["setValueTemplates"]["securityContext.readOnlyRootFilesystem"] == "false"
    else:
        assert "target" not in artifact["docker"] and "sync" not in artifact

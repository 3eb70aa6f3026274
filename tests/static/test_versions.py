"""One source of truth for the kind node: hack/versions.env pins the image kind
publishes for the pinned kind (its own default, by tag and digest), and every
other place that names a node or Kubernetes version follows it."""

import json
import re
import subprocess

import yaml

from tests.support import PINNED, ROOT, require_program


def kind_default_node_image(kind_version: str) -> str:
    """The node image kind KIND_VERSION defaults to, read from its module."""
    go = require_program("go")
    download = subprocess.run([go, "mod", "download", "-json", f"sigs.k8s.io/kind@{kind_version}"],
                              capture_output=True, text=True, timeout=300, cwd="/")
    assert download.returncode == 0, download.stdout + download.stderr
    source = (json.loads(download.stdout)["Dir"] + "/pkg/apis/config/defaults/image.go")
    with open(source) as file:
        found = re.search(r'^const Image = "([^"]+)"$', file.read(), re.M)
    assert found, f"no `const Image` in {source}"
    return found.group(1)


def test_node_image_is_the_one_kind_publishes_for_the_pinned_kind():
    assert PINNED["KIND_NODE_IMAGE"] == kind_default_node_image(PINNED["KIND_VERSION"]), (
        "hack/versions.env's KIND_NODE_IMAGE is not kind's default node image: "
        "pin the image (tag and digest) the pinned kind publishes")


def test_node_image_is_pinned_by_tag_and_digest():
    assert re.fullmatch(r"kindest/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}", PINNED["KIND_NODE_IMAGE"])


def test_kubernetes_version_is_the_node_images():
    tag = PINNED["KIND_NODE_IMAGE"].split("@")[0].rsplit(":", 1)[1]
    assert PINNED["KUBERNETES_VERSION"] == tag


def test_skaffold_renders_for_the_node_version():
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert config["manifests"]["helm"]["flags"]["template"] == [f"--kube-version={PINNED['KUBERNETES_VERSION']}"]


def test_workflow_kubectl_and_node_follow_versions_env():
    """The workflow reads versions.env into its environment and hands kind-action
    the node image and a kubectl of the node's version (its own is older)."""
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yaml").read_text())
    steps = workflow["jobs"]["cluster"]["steps"]
    reads = [s for s in steps if "hack/versions.env" in s.get("run", "") and "GITHUB_ENV" in s.get("run", "")]
    assert reads, "the cluster job does not read hack/versions.env"
    (kind_action,) = [s for s in steps if s.get("uses", "").startswith("helm/kind-action@")]
    assert kind_action["with"]["node_image"] == "${{ env.KIND_NODE_IMAGE }}"
    assert kind_action["with"]["kubectl_version"] == "${{ env.KUBERNETES_VERSION }}"


def tracked_text_files():
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in names:
        path = ROOT / name
        if path.suffix == ".lock" or not path.is_file():
            continue
        try:
            yield name, path.read_text()
        except UnicodeDecodeError:
            continue


def test_no_other_node_image_or_kube_version_is_named():
    """A node tag kind never published fails to pull everywhere: every
    kindest/node reference and --kube-version flag in the repo is the pinned one."""
    node = PINNED["KIND_NODE_IMAGE"]
    wrong = []
    for name, text in tracked_text_files():
        for found in re.findall(r"kindest/node:v\d+\.\d+\.\d+(?:@sha256:[0-9a-f]{64})?", text):
            if found not in (node, node.split("@")[0]):
                wrong.append(f"{name}: {found}")
        for found in re.findall(r"--kube-version[= ](v?1\.\d+\.\d+)", text):
            if found.lstrip("v") != PINNED["KUBERNETES_VERSION"].lstrip("v"):
                wrong.append(f"{name}: --kube-version {found}")
    assert not wrong, wrong


def test_the_released_version_is_named_once_per_place_and_has_a_changelog_entry():
    chart = yaml.safe_load((ROOT / "chart/Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"], "make release gives both the version it releases"
    changelog = (ROOT / "chart/CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(chart['version'])}$", changelog, re.M), "make release would refuse it"
    (image,) = yaml.safe_load((ROOT / "k8s/kustomization.yaml").read_text())["images"]
    assert image["newTag"] == chart["appVersion"], "k8s/ runs the chart's release"
    assert f'newTag: "{chart["appVersion"]}"' in (ROOT / "k8s/README.md").read_text()
    previous = PINNED["PREVIOUS_RELEASE_REF"]
    assert re.fullmatch(r"[0-9a-f]{40}", previous), "the previous release by full commit"

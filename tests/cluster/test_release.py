"""The release as users get it: `make release` to the kind cluster's own
registry (`make registry`, as kind documents it), then installed from there
the ways users install it: `helm install oci://…`, `kubectl apply -k` with
the image line edited, and `helm upgrade` from the previous release's chart.
The nodes pull the image from the registry (nothing is loaded into them);
cosign verifies what was signed and refuses what was not; the SBOMs come
back from the registry; the arm64 image runs here under emulation."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import yaml

from tests.cluster.kube import client_pod, helm, kubectl, port_forward, wait_for_traffic
from tests.support import PINNED, ROOT, docker, env_file, free_port, run, tool, visit_count, wait_until

REGISTRY = f"localhost:{PINNED['LOCAL_REGISTRY_PORT']}"
CHART_VERSION = yaml.safe_load((ROOT / "chart/Chart.yaml").read_text())["version"]
# The test key's password.
PASSWORD = "friendlyhello-test"
# The first test waits for the module's release: on a new machine `make
# release` first builds both platforms' images (docs/development.md).
pytestmark = pytest.mark.timeout(1800)
LOCKED = dict(re.findall(r"^([a-z0-9_.-]+)==([^\s\\]+)", (ROOT / "requirements.lock").read_text(), re.M))


def make(*args: str, env: dict | None = None, timeout: float = 3600) -> subprocess.CompletedProcess:
    return run("make", *args, env=env, timeout=timeout, check=False)


def crane(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(tool("crane"), *args, check=check, timeout=300)


def cosign(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run(tool("cosign"), *args, env=env, check=False, timeout=300)


class Released:
    """What one `make release` pushed, read back from the files it wrote."""

    def __init__(self, registry: str, key: Path, result: subprocess.CompletedProcess, seconds: float):
        self.registry, self.key, self.result, self.seconds = registry, key, result, seconds
        out = ROOT / "build/release" / CHART_VERSION
        self.facts = env_file(str((out / "release.env").relative_to(ROOT)))
        self.commands = (out / "commands.txt").read_text().splitlines()
        self.image = self.facts["IMAGE"]
        self.repository = self.image.rsplit(":", 1)[0]
        self.index = f"{self.repository}@{self.facts['IMAGE_DIGEST']}"
        self.chart = self.facts["CHART"]

    def platform_image(self, arch: str) -> str:
        return f"{self.repository}@{self.facts[f'IMAGE_DIGEST_{arch.upper()}']}"

    def signing(self, **extra: str) -> dict[str, str]:
        """The environment make release signs with here: this key, no transparency log."""
        return {"COSIGN_KEY": str(self.key), "COSIGN_PASSWORD": PASSWORD, "TLOG": "0", **extra}

    def verify_flags(self) -> list[str]:
        return ["--key", str(self.key.with_suffix(".pub")), "--insecure-ignore-tlog=true", "--allow-http-registry"]


@pytest.fixture(scope="module")
def released(tmp_path_factory, api) -> Released:
    result = make("registry", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    keys = tmp_path_factory.mktemp("cosign")
    run(tool("cosign"), "generate-key-pair", "--output-key-prefix", str(keys / "release"),
        env={"COSIGN_PASSWORD": PASSWORD}, cwd=keys)
    # A path of its own per run: a release is immutable, and the registry
    # keeps its storage between runs.
    registry = f"{REGISTRY}/test-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    result = make("release", f"REGISTRY={registry}", f"VERSION={CHART_VERSION}",
                  env={"COSIGN_KEY": str(keys / "release.key"), "COSIGN_PASSWORD": PASSWORD, "TLOG": "0"})
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-5000:]
    print(f"make release (linux/amd64 + linux/arm64, SBOMs, signatures, chart): {seconds:.0f}s")
    print(result.stderr)
    return Released(registry, keys / "release.key", result, seconds)


@pytest.fixture(scope="module")
def redis_values(image_values) -> list[str]:
    """Redis for the releases below, as the other cluster tests run it (it is
    not part of the release). Not a copy pushed to the registry: the node's
    containerd keeps one set of names per image ID, and the same image pulled
    under a second name (its manifest recompressed, so another digest) takes
    the loaded name away from every later pod that asks for it."""
    pairs = list(zip(image_values[::2], image_values[1::2], strict=True))
    return [arg for flag, value in pairs if value.startswith("redis.image.") for arg in (flag, value)]


def node_images(node: str) -> str:
    return docker("exec", node, "crictl", "images", "--output", "json").stdout


def pod_images(core, namespace: str, selector: str) -> set[tuple[str, str, str]]:
    """(image asked for, image ID run, node) of each container of the pods SELECTOR matches."""
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    return {(container.image, status.image_id, pod.spec.node_name)
            for pod in pods for container in pod.spec.containers
            for status in pod.status.container_statuses or [] if status.name == container.name}


def counts(url: str) -> None:
    first = wait_until(lambda: visit_count(url + "/"), timeout=30, interval=0.5, message="a counted visit")
    assert visit_count(url + "/") == first + 1


def test_release_prints_how_to_install_and_verify(released):
    assert released.commands[0] == (f"helm install friendlyhello {released.chart} --version {CHART_VERSION} "
                                    "--plain-http")
    assert sorted(released.commands[1].split()[2:-1]) == sorted(released.verify_flags())
    assert released.commands[1].endswith(released.index)
    assert released.commands[2].endswith(f"{released.chart[len('oci://'):]}@{released.facts['CHART_DIGEST']}")
    for line in released.commands:
        assert line in released.result.stderr, "printed as written"
    index = json.loads(crane("manifest", released.image).stdout)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]}
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}
    config = json.loads(crane("config", released.platform_image("arm64")).stdout)
    labels = config["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == CHART_VERSION
    revision = run("git", "rev-parse", "HEAD", cwd=ROOT).stdout.strip()
    dirty = run("git", "diff", "--quiet", "HEAD", "--", cwd=ROOT, check=False).returncode != 0
    assert labels["org.opencontainers.image.revision"] == revision + ("-dirty" if dirty else "")
    assert labels["org.opencontainers.image.created"] and labels["org.opencontainers.image.source"]


def test_a_version_already_released_is_refused(released):
    started = time.monotonic()
    result = make("release", f"REGISTRY={released.registry}", f"VERSION={CHART_VERSION}",
                  env=released.signing())
    assert result.returncode != 0
    assert f"{released.image} exists: releases are immutable" in result.stderr, result.stderr[-2000:]
    assert time.monotonic() - started < 60, "refused before building"
    assert crane("digest", released.image).stdout.strip() == released.facts["IMAGE_DIGEST"]


def test_force_pushes_the_same_release_again_and_it_is_reproducible(released):
    """FORCE=1 overrides the refusal; from the same commit the image is the
    same bytes (its index and platform digests), so a re-run repairs rather
    than changes what users pull."""
    result = make("release", f"REGISTRY={released.registry}", f"VERSION={CHART_VERSION}",
                  env=released.signing(FORCE="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{released.image} exists: pushing over it (FORCE=1)" in result.stderr
    again = env_file(str((ROOT / "build/release" / CHART_VERSION / "release.env").relative_to(ROOT)))
    image_facts = [key for key in released.facts if key.startswith("IMAGE")]
    assert {key: again[key] for key in image_facts} == {key: released.facts[key] for key in image_facts}
    assert crane("digest", released.image).stdout.strip() == released.facts["IMAGE_DIGEST"]


def test_a_version_the_changelog_or_the_chart_does_not_carry_is_refused(released):
    result = make("release", f"REGISTRY={released.registry}", "VERSION=99.0.0")
    assert result.returncode != 0
    assert "chart/CHANGELOG.md has no '## 99.0.0' section" in result.stderr


def test_helm_install_from_the_registry(released, redis_values, namespace, core):
    helm("install", "rel", released.chart, "--version", CHART_VERSION, "--plain-http", "--namespace", namespace,
         *redis_values, "--wait", "--timeout", "5m", timeout=420)
    web = pod_images(core, namespace, "app.kubernetes.io/instance=rel,app.kubernetes.io/component=web")
    assert {image for image, _, _ in web} == {released.index}, web
    for _, image_id, node in web:
        # The node names the content by the first name it pulled it as: an
        # earlier run's release of the same tree has the same digest.
        assert image_id.endswith(f"/{PINNED['IMAGE_REPOSITORY']}@{released.facts['IMAGE_DIGEST']}"), image_id
        assert released.index in node_images(node), "the node pulled it from the registry, by that name"
    with port_forward(namespace, "service/rel-friendlyhello", 80) as url:
        counts(url)
        assert requests.get(url + "/version", timeout=5).json()["version"] == CHART_VERSION
    output = helm("test", "rel", "--namespace", namespace, "--logs", "--timeout", "3m", timeout=240).stdout
    assert "counter path ok: web -> Redis INCR" in output, output


def test_cosign_verifies_the_image_and_the_chart(released):
    for line in released.commands[1:]:
        command = line.split()
        assert command[:2] == ["cosign", "verify"]
        result = cosign(*command[1:])
        assert result.returncode == 0, result.stderr
        (signatures,) = [json.loads(entry) for entry in result.stdout.splitlines() if entry.startswith("[")]
        assert signatures and {signed["critical"]["image"]["docker-manifest-digest"] for signed in signatures} \
            == {command[-1].split("@")[1]}


def write_layer(directory: Path) -> Path:
    """A one-file layer of its own: an image nobody signed."""
    (directory / "unsigned.txt").write_text(f"not signed {uuid.uuid4()}\n")
    with tarfile.open(directory / "layer.tar", "w") as tar:
        tar.add(directory / "unsigned.txt", arcname="unsigned.txt")
    return directory / "layer.tar"


def test_cosign_refuses_an_unsigned_image_and_a_moved_tag(released, tmp_path):
    # Content nobody signed, pushed beside the release. (Not a platform image
    # of the release: its SBOM attestation is signed with the same key.)
    unsigned = f"{released.repository}:unsigned"
    crane("append", "--new_layer", str(write_layer(tmp_path)), "--new_tag", unsigned)
    result = cosign("verify", *released.verify_flags(), unsigned)
    assert result.returncode != 0 and "no signatures found" in result.stderr, result.stderr
    # The release's tag moved to other content: the tag now names an image
    # nobody signed, though its name is the released one.
    crane("tag", unsigned, CHART_VERSION)
    try:
        assert crane("digest", released.image).stdout.strip() != released.facts["IMAGE_DIGEST"]
        result = cosign("verify", *released.verify_flags(), released.image)
        assert result.returncode != 0 and "no signatures found" in result.stderr, result.stderr
    finally:
        crane("tag", released.index, CHART_VERSION)
    assert cosign("verify", *released.verify_flags(), released.image).returncode == 0


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_the_sbom_of_each_platform_comes_back_from_the_registry(released, arch):
    result = cosign("verify-attestation", *released.verify_flags(), "--type", "spdxjson",
                    released.platform_image(arch))
    assert result.returncode == 0, result.stderr
    # One attestation per release run of this digest (FORCE=1 attests again): each must hold.
    envelopes = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert envelopes
    for envelope in envelopes:
        statement = json.loads(base64.b64decode(envelope["payload"]))
        assert statement["predicateType"] == "https://spdx.dev/Document"
        assert statement["subject"][0]["digest"]["sha256"] == released.facts[f"IMAGE_DIGEST_{arch.upper()}"][7:]
        packages = {}
        for package in statement["predicate"]["packages"]:
            purls = [ref["referenceLocator"] for ref in package.get("externalRefs", [])
                     if ref["referenceType"] == "purl"]
            packages.setdefault(package["name"].lower(), set()).update(purls)
        for name in ("flask", "redis", "gunicorn"):
            assert f"pkg:pypi/{name}@{LOCKED[name]}" in packages.get(name, set()), (name, packages.get(name))
        debian = {name for name, purls in packages.items() if any(p.startswith("pkg:deb/debian/") for p in purls)}
        assert {"libc6", "libpython3.13-stdlib", "python3.13-minimal"} <= debian, sorted(debian)
        assert all(f"arch={arch}" in p for p in packages["libc6"] if p.startswith("pkg:deb/"))


def test_the_arm64_image_answers_under_emulation(released):
    # The build ran nothing of arm64's; running it takes the emulation this sets up.
    run(str(ROOT / "hack/host/binfmt.sh"), "linux/arm64", timeout=600)
    port = free_port()
    name = f"fh-arm64-{uuid.uuid4().hex[:6]}"
    docker("run", "--detach", "--platform", "linux/arm64", "--name", name, "--publish", f"127.0.0.1:{port}:8080",
           released.image, timeout=600)
    try:
        assert docker("image", "inspect", "-f", "{{.Architecture}}", released.image).stdout.strip() == "arm64"
        machine = docker("exec", name, "python", "-c", "import platform; print(platform.machine())").stdout
        assert machine.strip() == "aarch64"

        # Emulated, the workers take seconds to start and to answer at first.
        def healthy():
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout=180, interval=1, message="the arm64 image's /healthz")
        assert requests.get(f"http://127.0.0.1:{port}/version", timeout=30).json()["version"] == CHART_VERSION
    finally:
        docker("rm", "--force", name, check=False)
        docker("rmi", released.image, check=False)


def test_kubectl_apply_k_serves_the_released_image(released, redis_values, tmp_path, core):
    """k8s/ as k8s/README.md says to use it, with its `images:` line pointed
    at the release; the namespace and Redis's registry are this test's own."""
    manifests = tmp_path / "k8s"
    shutil.copytree(ROOT / "k8s", manifests)
    kustomization = manifests / "kustomization.yaml"
    text, edits = re.subn(r"(?m)^(\s+newName:) \S+$", rf"\1 {released.repository}", kustomization.read_text())
    assert edits == 1, "k8s/kustomization.yaml has one image line to edit"
    text, edits = re.subn(r'(?m)^(\s+newTag:) \S+$', rf'\1 "{CHART_VERSION}"', text)
    assert edits == 1
    namespace = f"fh-kustomize-{uuid.uuid4().hex[:5]}"
    redis = dict(value.split("=", 1) for value in redis_values[1::2])
    images = [*yaml.safe_load(text)["images"], {"name": "redis", "newName": redis["redis.image.repository"],
                                               "newTag": redis["redis.image.tag"]}]
    kustomization.write_text(re.sub(r"(?ms)^images:.*?(?=^\S|\Z)", "", text)
                             + f"namespace: {namespace}\n" + yaml.safe_dump({"images": images}))
    core.create_namespace({"metadata": {"name": namespace,
                                        "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    try:
        kubectl("-n", namespace, "create", "secret", "generic", "friendlyhello-redis-auth",
                "--from-literal=redis-password=kustomize-test")
        kubectl("apply", "-k", str(manifests))
        kubectl("-n", namespace, "rollout", "status", "deployment/friendlyhello", "--timeout=180s", timeout=200)
        kubectl("-n", namespace, "rollout", "status", "statefulset/friendlyhello-redis", "--timeout=180s",
                timeout=200)
        web = pod_images(core, namespace, "app.kubernetes.io/component=web")
        assert {image for image, _, _ in web} == {f"{released.image}"}, web
        assert all(image_id.endswith(released.facts["IMAGE_DIGEST"]) for _, image_id, _ in web), web
        with port_forward(namespace, "service/friendlyhello", 80) as url:
            counts(url)
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def previous_chart(tmp_path: Path) -> Path:
    """The chart as it was at the previous release (PREVIOUS_RELEASE_REF)."""
    ref = PINNED["PREVIOUS_RELEASE_REF"]
    found = run("git", "cat-file", "-t", ref, cwd=ROOT, check=False)
    assert found.returncode == 0, f"{ref} is not in this clone (a shallow clone? git fetch --unshallow)"
    archive = tmp_path / "previous.tar"
    run("git", "archive", "--output", str(archive), ref, "chart", cwd=ROOT)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "chart"


def test_helm_upgrade_from_the_previous_release_under_traffic(released, redis_values, namespace, core,
                                                               tmp_path):
    old = previous_chart(tmp_path)
    old_version = yaml.safe_load((old / "Chart.yaml").read_text())["version"]
    assert old_version != CHART_VERSION
    helm("install", "rel", str(old), "--namespace", namespace, *redis_values,
         "--set", f"image.repository={released.repository}", "--set", f"image.tag={CHART_VERSION}",
         "--wait", "--timeout", "5m", timeout=420)
    service = "rel-friendlyhello"
    traffic = client_pod(core, namespace, released.index, "upgrade-client", f"http://{service}/",
                         SECONDS_=600, PAUSE=0.005)
    traffic.wait_running()
    release = SimpleNamespace(fullname=service, namespace=namespace)  # what wait_for_traffic reads
    start = wait_for_traffic(release)
    old_pods = {pod.metadata.name for pod in core.list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/component=web").items}
    helm("upgrade", "rel", released.chart, "--version", CHART_VERSION, "--plain-http", "--namespace", namespace,
         *redis_values, "--wait", "--timeout", "5m", timeout=420)
    wait_until(lambda: not old_pods & {pod.metadata.name for pod in core.list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/component=web").items}, timeout=120, interval=0.5,
        message="the old web pods to be gone")
    wait_for_traffic(release, start, visits=300, timeout=120)
    traffic.stop()
    result = traffic(timeout=240)
    print(f"upgrade {old_version} -> {CHART_VERSION} under traffic: {result['requests']} requests, "
          f"statuses {result['statuses']}")
    assert result["statuses"] == {"200": result["requests"]}, (result["statuses"], result["errors"])
    visits = [v for v in result["visits"] if v is not None]
    assert visits == sorted(visits) and visits[0] >= 1, "the count continued through the upgrade"
    chart = helm("list", "--namespace", namespace, "-o", "json").stdout
    assert json.loads(chart)[0]["chart"] == f"friendlyhello-{CHART_VERSION}"

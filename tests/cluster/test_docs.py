"""Every command of the docs (README.md, docs/*.md, bench/README.md), run as
written or checked, in the order a reader meets them.

Commands are the lines of the ```sh blocks (a trailing backslash continues a
line). Each must match exactly one entry of RUNNERS, which runs it and checks
what it should have done, or, for a command whose work another suite does
(`make test` and its suites, `make bench`, `make dev`), checks that it is that
work; a command without a runner fails the first test, so the docs cannot gain
a command nobody runs. `make down` deletes the cluster: it runs after all the
others, and this module after every other of the cluster suite
(tests/cluster/conftest.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import requests
import yaml

from tests.cluster.kube import CONTEXT, kubectl, port_forward
from tests.support import PINNED, ROOT, ends_at_its_checksum, visit_count, wait_until

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench/README.md"]
NAMESPACE, RELEASE = PINNED["RELEASE_NAMESPACE"], PINNED["RELEASE_NAME"]
MAKEFILE = (ROOT / "Makefile").read_text()


def commands_of(path) -> list[str]:
    commands, block = [], None
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            block = line[3:].strip() if block is None else None
            continue
        if block != "sh":
            continue
        if commands and commands[-1].endswith("\\"):
            commands[-1] = commands[-1][:-1].rstrip() + " " + line.strip()
        elif line.strip() and not line.lstrip().startswith("#"):
            commands.append(line.strip())
    return commands


def documented_commands() -> list[str]:
    return [command for path in DOCS for command in commands_of(path)]


def recipe(target: str) -> str:
    """The first line of TARGET's recipe in the Makefile."""
    return re.search(rf"^{target}:[^\n]*\n\t(.+)$", MAKEFILE, re.M).group(1)


@dataclass
class Reader:
    """What the documented commands share: the exports run so far, and facts to compare."""

    prelude: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def script(self, command: str) -> str:
        return "\n".join([*self.prelude, command])

    def run(self, command: str, timeout: float = 900, ok_codes=(0,)) -> str:
        started = time.monotonic()
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", self.script(command)], cwd=ROOT,
                                capture_output=True, text=True, timeout=timeout)
        output = result.stdout + result.stderr
        assert result.returncode in ok_codes, f"`{command}` exited {result.returncode}:\n{output[-4000:]}"
        print(f"docs: `{command}` ({time.monotonic() - started:.1f} s)")
        return output

    def serve(self, command: str, until: Callable[[list[str]], bool], timeout: float = 900) -> list[str]:
        """Starts a command that runs until Ctrl-C, waits until UNTIL(output lines), then sends Ctrl-C."""
        process = subprocess.Popen(["bash", "-euo", "pipefail", "-c", self.script(command)], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        lines: list[str] = []
        os.set_blocking(process.stdout.fileno(), False)

        def done():
            while chunk := process.stdout.readline():
                lines.append(chunk.rstrip("\n"))
            if process.poll() is not None:
                raise AssertionError(f"`{command}` exited {process.returncode}:\n" + "\n".join(lines[-60:]))
            return until(lines)

        try:
            wait_until(done, timeout=timeout, interval=0.5, message=f"`{command}` to serve")
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        print(f"docs: `{command}` served, stopped with Ctrl-C")
        return lines


def current_count() -> int:
    with port_forward(NAMESPACE, f"service/{RELEASE}", 80) as url:
        return wait_until(lambda: visit_count(url), timeout=30, interval=0.5, message="a counted visit")


def uid(kind_and_name: str) -> str:
    return kubectl("-n", NAMESPACE, "get", kind_and_name, "-o", "jsonpath={.metadata.uid}").stdout


def release_is_up(reader: Reader) -> None:
    kubectl("-n", NAMESPACE, "rollout", "status", f"deployment/{RELEASE}", "--timeout=120s")
    kubectl("-n", NAMESPACE, "rollout", "status", f"statefulset/{RELEASE}-redis", "--timeout=120s")


# Each runner gets the reader and the command (as the docs write it).

def make_up(reader: Reader, command: str) -> None:
    output = reader.run(command, timeout=3600)
    assert "friendlyhello is running" in output
    release_is_up(reader)
    count = current_count()
    if "count before" in reader.facts:
        assert count > reader.facts.pop("count before"), "the count continued on the retained volume"
    if "orphaned redis volume" in reader.facts:
        assert uid(f"pvc/data-{RELEASE}-redis-0") == reader.facts.pop("orphaned redis volume"), \
            "the new StatefulSet kept the volume"


def browse(reader: Reader, command: str) -> None:
    url = f"http://127.0.0.1:{PINNED['BROWSE_PORT']}"
    reader.serve(command, lambda lines: visit_count(url) is not None, timeout=60)


def make_down(reader: Reader, command: str) -> None:
    """Deletes the cluster: deferred until every other command has run."""
    reader.facts["make down"] = command


def make_test(reader: Reader, command: str) -> None:
    """CI runs it (.ci/run): this very test is part of it, so it is not started again here."""
    ci = (ROOT / ".ci/run").read_text().splitlines()
    assert ci[-1] == command and "export CI=true" in ci


def make_help(reader: Reader, command: str) -> None:
    output = reader.run(command)
    groups = re.findall(r"^##@ (.+)$", MAKEFILE, re.M)
    assert [line for line in output.splitlines() if line and not line.startswith(" ")] == groups, output
    assert groups[0] == "Run" and output.split("make ")[1].startswith("up "), "`up` comes first"
    for target in re.findall(r"^([a-z-]+):.*## ", MAKEFILE, re.M):
        assert f"make {target} " in output, f"make help does not list {target}"


def export_path(reader: Reader, command: str) -> None:
    reader.prelude.append(command)
    reader.run("command -v helm kind kubectl skaffold ct")


def helm_install_elsewhere(reader: Reader, command: str) -> None:
    """Rendered and checked by the API server (a dry run): the image is a placeholder."""
    output = reader.run(f"{command} --kube-context {CONTEXT} --dry-run=server", timeout=300)
    image = re.search(r"--set image.repository=(\S+) --set image.tag=(\S+)", command)
    assert f"image: {image.group(1)}:{image.group(2)}" in output.replace('"', ""), output[-3000:]


# Where the release workflow publishes: the chart's home, on ghcr.io.
CHART = yaml.safe_load((ROOT / "chart/Chart.yaml").read_text())
PUBLISHED = "ghcr.io/" + CHART["home"].split("/")[-2]


def install_released(reader: Reader, command: str) -> None:
    """ghcr.io cannot be reached from here: checked to be the install line
    `make release` prints for that registry (tests/cluster/test_release.py
    runs it against the kind cluster's registry), for the chart's version."""
    version = CHART["version"]
    assert command == (f"helm install {RELEASE} oci://{PUBLISHED}/charts/{RELEASE} --version {version} "
                       f"--namespace {NAMESPACE} --create-namespace")
    assert "helm install $chart_name oci://$chart_repository/$chart_name --version $version" in \
        (ROOT / "hack/release.sh").read_text()


def verify_released(reader: Reader, command: str) -> None:
    """Keyless signatures exist only for the release workflow's runs: checked
    to name the released image or chart and the workflow that signs them."""
    version = CHART["version"]
    reference = command.split()[2]
    assert reference in (f"{PUBLISHED}/{RELEASE}:{version}", f"{PUBLISHED}/charts/{RELEASE}:{version}")
    identity = re.search(r"--certificate-identity (\S+)", command).group(1)
    repository = CHART["home"]
    assert identity == f"{repository}/.github/workflows/release.yaml@refs/tags/v{version}"
    keyless = ('--certificate-identity "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/.github/workflows/release.yaml'
               '@refs/tags/v$version"')
    assert keyless in (ROOT / "hack/release.sh").read_text(), "what make release prints for a keyless release"
    workflow = yaml.safe_load((ROOT / ".github/workflows/release.yaml").read_text())
    assert workflow[True]["push"]["tags"] == ["v*"]
    assert workflow["jobs"]["release"]["permissions"]["id-token"] == "write"


def make_registry(reader: Reader, command: str) -> None:
    reader.run(command, timeout=600)
    hosting = kubectl("-n", "kube-public", "get", "configmap", "local-registry-hosting",
                      "-o", "jsonpath={.data.localRegistryHosting\\.v1}").stdout
    address = f"localhost:{PINNED['LOCAL_REGISTRY_PORT']}"
    assert f'host: "{address}"' in hosting, hosting
    assert requests.get(f"http://{address}/v2/", timeout=5).status_code == 200


def make_release(reader: Reader, command: str) -> None:
    """A release is immutable and the registry keeps it: tests/cluster/test_release.py
    runs this, to a path of its own per run, with the same settings."""
    assert recipe("release").startswith("@test -n")
    text = (ROOT / "tests/cluster/test_release.py").read_text()
    assert all(f'"{name}"' in text for name in re.findall(r"\b([A-Z_]+)=", command.split(" make ")[0])), command
    assert '"release", f"REGISTRY={registry}", f"VERSION={CHART_VERSION}"' in text
    version = CHART["version"]
    assert command.endswith(f" VERSION={version}"), "the version make release would accept"


def make_dev(reader: Reader, command: str) -> None:
    """`hack/skaffold.sh dev --profile dev`, which tests/cluster/test_skaffold.py runs (an edit synced, a rebuild)."""
    assert recipe("dev") == "@hack/skaffold.sh dev --profile dev"
    text = (ROOT / "tests/cluster/test_skaffold.py").read_text()
    assert '"dev", "--profile", "dev"' in text


def cluster_addon(reader: Reader, command: str) -> None:
    """hack/monitoring.sh or hack/metrics-server.sh, which the alert and the
    autoscaling tests run (and remove after them): checked to be that script."""
    target = command.split()[1]
    assert recipe(target) == f"@hack/{target}.sh up"
    test = {"monitoring": "test_monitoring.py", "metrics-server": "test_autoscaling.py"}[target]
    assert f'"hack/{target}.sh"' in (ROOT / "tests/cluster" / test).read_text()


def helm_test(reader: Reader, command: str) -> None:
    assert "counter path ok" in reader.run(command, timeout=300)


def redis_password() -> str:
    return kubectl("-n", NAMESPACE, "get", "secret", f"{RELEASE}-redis",
                   "-o", "jsonpath={.data.redis-password}").stdout


def patch_password(reader: Reader, command: str) -> None:
    reader.facts["password before"] = redis_password()
    reader.facts["count before"] = current_count()
    reader.run(command)
    assert redis_password() != reader.facts["password before"]


def rollout(reader: Reader, command: str) -> None:
    reader.run(command, timeout=300)
    if "rollout status deployment/" in command and "count before" in reader.facts:
        # The last step of the rotation: the page counts on, with the new password.
        assert current_count() > reader.facts.pop("count before")


def backup(reader: Reader, command: str) -> None:
    path = re.search(r">(\S+)$", command).group(1)
    reader.run(command)
    try:
        with open(path, "rb") as snapshot:
            data = snapshot.read()
        assert data.startswith(b"REDIS"), data[:20]
        assert b"counter" in data
        assert ends_at_its_checksum(data), data[-60:]
    finally:
        os.remove(path)


def make_backup(reader: Reader, command: str) -> None:
    reader.facts["count in the snapshot"] = current_count()
    reader.run(command)
    path = re.search(r"FILE=(\S+)", command).group(1)
    with open(path, "rb") as snapshot:
        data = snapshot.read()
    assert data.startswith(b"REDIS") and ends_at_its_checksum(data), data[-60:]


def make_restore(reader: Reader, command: str) -> None:
    """After visits the snapshot does not hold, the page counts on from the snapshot's."""
    in_snapshot = reader.facts.pop("count in the snapshot")
    assert current_count() > in_snapshot
    try:
        reader.run(command, timeout=600)
    finally:
        os.remove(re.search(r"FILE=(\S+)", command).group(1))
    release_is_up(reader)
    assert current_count() == in_snapshot + 1


def suite(reader: Reader, command: str) -> None:
    """A part of `make test` (TEST_SUITES, which .ci/run runs), not started twice."""
    suites = re.search(r"^TEST_SUITES := (.+)$", MAKEFILE, re.M).group(1).split()
    assert command.split()[1] in suites


def make_lint(reader: Reader, command: str) -> None:
    """Its test files all belong to the static suite, which `make test` runs."""
    paths = re.search(r"^lint:.*\n\t\$\(PYTEST\) ((?:.*\\\n)*.*)$", MAKEFILE, re.M).group(1).replace("\\\n", " ")
    for path in paths.split():
        assert path.startswith("tests/static/") and (ROOT / path).exists(), path


def make_bench(reader: Reader, command: str) -> None:
    """`bench/run.py`, which tests/unit/test_bench.py runs (short runs, --profile included)."""
    assert recipe("bench") == "$(PYTHON) bench/run.py $(BENCH_ARGS)"
    arguments = re.search(r'BENCH_ARGS="([^"]*)"', command)
    text = (ROOT / "tests/unit/test_bench.py").read_text()
    assert '"bench/run.py"' in text and all(f'"{arg}"' in text for arg in
                                             (arguments.group(1).split()[::2] if arguments else []))


def bench_sweep(reader: Reader, command: str) -> None:
    """A comparison of settings, minutes long: checked to be an option of bench/run.py."""
    assert "--sweep" in reader.run(command.replace("--sweep", "--help"))


def bench_instructions(reader: Reader, command: str) -> None:
    """Three minutes under valgrind, for figures bench/README.md gives: checked
    to be the script that prints them, its usage line answering."""
    result = subprocess.run([str(ROOT / command), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.startswith("usage: bench/instructions.sh"), result.stderr
    assert "instructions per page" in (ROOT / command).read_text()


def compose_up(reader: Reader, command: str) -> None:
    reader.run(command, timeout=900)
    counts = [visit_count("http://127.0.0.1:8080"), visit_count("http://127.0.0.1:8081")]
    assert None not in counts and counts[1] == counts[0] + 1, f"two replicas, one count: {counts}"


def compose_down(reader: Reader, command: str) -> None:
    reader.run(command, timeout=300)
    assert visit_count("http://127.0.0.1:8080") is None


def kind_clusters(reader: Reader, command: str) -> None:
    assert PINNED["CLUSTER_NAME"] in reader.run(command).split()


def contexts(reader: Reader, command: str) -> None:
    assert CONTEXT in reader.run(command)


def node_images(reader: Reader, command: str) -> None:
    output = reader.run(command)
    image = kubectl("-n", NAMESPACE, "get", "deployment", RELEASE,
                    "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout
    repository, tag = image.rsplit(":", 1)
    assert re.search(rf"{re.escape(repository)}\s+{re.escape(tag)}\s", output), output


def orphan_statefulset(reader: Reader, command: str) -> None:
    pod = uid(f"pod/{RELEASE}-redis-0")
    reader.facts["orphaned redis volume"] = uid(f"pvc/data-{RELEASE}-redis-0")
    reader.facts["count before"] = current_count()
    reader.run(command)
    assert uid(f"pod/{RELEASE}-redis-0") == pod, "the Redis pod keeps running"


def resolve_images(reader: Reader, command: str) -> None:
    """Builds stand-ins (the node's takes half an hour where nothing is cached):
    checked to be hack/resolve-image.sh, whose every path
    tests/cluster/test_registry.py runs on a real registry."""
    target = command.split()[1]
    assert "hack/resolve-image.sh" in recipe(target)
    if target == "standins":
        assert "AIRGAP=1" in recipe(target)


RUNNERS: dict[str, Callable[[Reader, str], None]] = {
    r"make up": make_up,
    r"make browse": browse,
    r"make down": make_down,
    r"make test": make_test,
    r"make help": make_help,
    r'export PATH="\$PWD/\.tools/bin:\$PATH"': export_path,
    rf"helm upgrade --install {RELEASE} \./chart --namespace {NAMESPACE} --create-namespace --set .*":
        helm_install_elsewhere,
    rf"helm install {RELEASE} oci://.*": install_released,
    r"cosign verify \S+ --certificate-identity .*": verify_released,
    r"make registry": make_registry,
    r"COSIGN_KEY=\S+ COSIGN_PASSWORD=\S+ TLOG=0 make release REGISTRY=localhost:5001 VERSION=\S+": make_release,
    r"make dev": make_dev,
    r"make (monitoring|metrics-server)": cluster_addon,
    rf"helm --kube-context {CONTEXT} test {RELEASE} -n {NAMESPACE} --logs": helm_test,
    rf"kubectl --context {CONTEXT} -n {NAMESPACE} patch secret {RELEASE}-redis -p .*": patch_password,
    rf"kubectl --context {CONTEXT} -n {NAMESPACE} rollout (restart|status) .*": rollout,
    rf"kubectl --context {CONTEXT} -n {NAMESPACE} exec {RELEASE}-redis-0 -c redis -- sh -c '[^']+' >\S+": backup,
    r"make backup FILE=\S+": make_backup,
    r"make restore FILE=\S+": make_restore,
    r"make test-(unit|static|image|cluster)": suite,
    r"make lint": make_lint,
    r'make bench( BENCH_ARGS="[^"]*")?': make_bench,
    r"\.venv/bin/python bench/run\.py --sweep": bench_sweep,
    r"bench/instructions\.sh": bench_instructions,
    r"make compose-up": compose_up,
    r"make compose-down": compose_down,
    r"kind get clusters": kind_clusters,
    rf"kubectl config get-contexts {CONTEXT}": contexts,
    rf"docker exec {PINNED['CLUSTER_NAME']}-worker crictl images": node_images,
    rf"kubectl --context {CONTEXT} -n {NAMESPACE} delete statefulset {RELEASE}-redis --cascade=orphan":
        orphan_statefulset,
    r"make (standins|node-image)": resolve_images,
}


def runner_for(command: str) -> Callable[[Reader, str], None]:
    matches = [runner for pattern, runner in RUNNERS.items() if re.fullmatch(pattern, command)]
    assert len(matches) == 1, f"documented command `{command}` matches {len(matches)} runners"
    return matches[0]


def test_every_documented_command_has_a_runner():
    commands = documented_commands()
    assert commands_of(ROOT / "README.md")[:2] == ["make up", "make browse"], "the README starts with how to run it"
    assert "make test" in commands and "make down" in commands
    for command in commands:
        runner_for(command)
    unused = [p for p in RUNNERS if not any(re.fullmatch(p, c) for c in commands)]
    assert not unused, f"runners for commands the docs no longer have: {unused}"


@pytest.mark.timeout(3600)
def test_documented_commands_run_in_order(api):
    reader = Reader()
    for command in documented_commands():
        runner_for(command)(reader, command)
    command = reader.facts.pop("make down")
    reader.run(command, timeout=600)
    assert PINNED["CLUSTER_NAME"] not in reader.run("kind get clusters").split()

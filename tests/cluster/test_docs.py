"""Every command of README.md, run as written, in the order a reader meets them.

Commands are the lines of the README's ```sh blocks (a trailing backslash
continues a line). Each must match exactly one entry of RUNNERS, which runs it
and checks what it should have done; a command without a runner fails the
first test, so the README cannot gain a command nobody runs.

The README ends with `make down`, which deletes the cluster: this module runs
last (tests/cluster/conftest.py), and after `make down` it runs the README's
first command, `make up`, again: the cold start, timed.
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

from tests.cluster.conftest import CONTEXT, PINNED, SKAFFOLD_FORWARD, kubectl, port_forward
from tests.conftest import ROOT, visit_count, wait_until

pytestmark = pytest.mark.cluster

README = ROOT / "README.md"
NAMESPACE, RELEASE = PINNED["RELEASE_NAMESPACE"], PINNED["RELEASE_NAME"]


def readme_commands() -> list[str]:
    commands, block = [], None
    for line in README.read_text().splitlines():
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


@dataclass
class Reader:
    """What the README's commands share: the exports run so far, and facts to compare."""

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
        print(f"README: `{command}` ({time.monotonic() - started:.1f} s)")
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
        print(f"README: `{command}` served, stopped with Ctrl-C")
        return lines


def current_count() -> int:
    with port_forward(NAMESPACE, f"service/{RELEASE}", 80) as url:
        return wait_until(lambda: visit_count(url), timeout=30, interval=0.5, message="a counted visit")


def uid(kind_and_name: str) -> str:
    return kubectl("-n", NAMESPACE, "get", kind_and_name, "-o", "jsonpath={.metadata.uid}").stdout


def release_is_up(reader: Reader) -> None:
    kubectl("-n", NAMESPACE, "rollout", "status", f"deployment/{RELEASE}", "--timeout=120s")
    kubectl("-n", NAMESPACE, "rollout", "status", f"statefulset/{RELEASE}-redis", "--timeout=120s")


# Each runner gets the reader and the command (as the README writes it).

def make_up(reader: Reader, command: str) -> None:
    started = time.monotonic()
    output = reader.run(command, timeout=3600)
    reader.facts.setdefault("make up seconds", []).append(round(time.monotonic() - started, 1))
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


def make_test(reader: Reader, command: str) -> None:
    """CI runs it (.ci/run): this very test is part of it, so it is not started again here."""
    ci = (ROOT / ".ci/run").read_text().splitlines()
    assert ci[-1] == command and "export CI=true" in ci


def make_help(reader: Reader, command: str) -> None:
    output = reader.run(command)
    documented = re.findall(r"^([a-z-]+):.*## ", (ROOT / "Makefile").read_text(), re.M)
    for target in documented:
        assert f"make {target} " in output, f"make help does not list {target}"


def export_path(reader: Reader, command: str) -> None:
    reader.prelude.append(command)
    reader.run("command -v helm kind kubectl skaffold ct")


def make_dev(reader: Reader, command: str) -> None:
    def forwarded_and_counting(lines):
        urls = [m.group(2) for m in map(SKAFFOLD_FORWARD.search, lines) if m]
        return urls and any("Watching for changes" in line for line in lines) and visit_count(urls[-1])

    reader.facts["count before"] = current_count()
    reader.serve(command, forwarded_and_counting, timeout=900)

    def release_removed():
        releases = subprocess.run([str(ROOT / ".tools/bin/helm"), "--kube-context", CONTEXT, "list",
                                   "-n", NAMESPACE, "-q"], capture_output=True, text=True, timeout=60)
        return releases.returncode == 0 and RELEASE not in releases.stdout.split()

    wait_until(release_removed, timeout=120, interval=1, message="skaffold to remove its release on Ctrl-C")


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
    finally:
        os.remove(path)


def suite(reader: Reader, command: str) -> None:
    """A part of `make test` (TEST_SUITES, which .ci/run runs), not started twice."""
    suites = re.search(r"^TEST_SUITES := (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    assert command.split()[1] in suites


def make_lint(reader: Reader, command: str) -> None:
    """Its test files all belong to the chart suite, which `make test` runs."""
    recipe = re.search(r"^lint:.*\n\t\$\(PYTEST\) (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    for path in recipe.split():
        assert "pytestmark = pytest.mark.chart" in (ROOT / path).read_text(), path


def make_bench(reader: Reader, command: str) -> None:
    # Shorter runs than the README's: this checks that the benchmark works and
    # that its checks of method and correctness pass (exit status 0), not speed.
    output = reader.run(f"BENCH_ARGS='--rounds 1 --duration 3 --rate-duration 3 --warmup 1' {command}", timeout=900)
    assert re.search(r"^\s+ok\s+\(d\) Redis counter .* under wrk ", output, re.M), output[-3000:]
    # The checks of method ran, for the three contenders with several workers.
    assert len(re.findall(r"^\s+ok\s+\(\w\) workers' CPU shares", output, re.M)) == 3, output[-3000:]
    assert len(re.findall(r"^\s+ok\s+\(\w\) vegeta sent", output, re.M)) == 3, output[-3000:]


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


def make_down(reader: Reader, command: str) -> None:
    reader.run(command, timeout=600)
    assert PINNED["CLUSTER_NAME"] not in reader.run("kind get clusters").split()


RUNNERS: dict[str, Callable[[Reader, str], None]] = {
    r"make up": make_up,
    r"make browse": browse,
    r"make test": make_test,
    r"make help": make_help,
    r'export PATH="\$PWD/\.tools/bin:\$PATH"': export_path,
    rf"kubectl --context {CONTEXT} -n {NAMESPACE} port-forward service/{RELEASE} 8080:80": browse,
    r"make dev": make_dev,
    rf"helm --kube-context {CONTEXT} test {RELEASE} -n {NAMESPACE} --logs": helm_test,
    rf"kubectl --context {CONTEXT} -n {NAMESPACE} patch secret {RELEASE}-redis -p .*": patch_password,
    rf"kubectl --context {CONTEXT} -n {NAMESPACE} rollout (restart|status) .*": rollout,
    rf"kubectl --context {CONTEXT} -n {NAMESPACE} exec {RELEASE}-redis-0 -c redis -- redis-cli --rdb - >\S+": backup,
    r"make test-(unit|chart|image|cluster)": suite,
    r"make lint": make_lint,
    r"make bench": make_bench,
    r"make compose-up": compose_up,
    r"make compose-down": compose_down,
    r"kind get clusters": kind_clusters,
    rf"kubectl config get-contexts {CONTEXT}": contexts,
    rf"docker exec {PINNED['CLUSTER_NAME']}-control-plane crictl images": node_images,
    rf"kubectl --context {CONTEXT} -n {NAMESPACE} delete statefulset {RELEASE}-redis --cascade=orphan":
        orphan_statefulset,
    r"make down": make_down,
}


def runner_for(command: str) -> Callable[[Reader, str], None]:
    matches = [runner for pattern, runner in RUNNERS.items() if re.fullmatch(pattern, command)]
    assert len(matches) == 1, f"README command `{command}` matches {len(matches)} runners"
    return matches[0]


def test_every_readme_command_has_a_runner():
    commands = readme_commands()
    assert commands[:2] == ["make up", "make browse"], "the README starts with how to run it"
    assert "make test" in commands
    for command in commands:
        runner_for(command)
    unused = [p for p in RUNNERS if not any(re.fullmatch(p, c) for c in commands)]
    assert not unused, f"runners for commands the README no longer has: {unused}"


@pytest.mark.timeout(5400)
def test_readme_commands_run_in_order(api):
    reader = Reader()
    for command in readme_commands():
        runner_for(command)(reader, command)
    # The README's first command again, on a machine with no cluster: the cold start.
    make_up(reader, "make up")
    print(f"\nREADME: make up took {reader.facts['make up seconds']} s (the last: no cluster)")

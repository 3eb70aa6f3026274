"""make backup and make restore (hack/redis-snapshot.sh) on a release of the
test's own: a snapshot survives the release and its volume, and a file the
release cannot load is refused with the count untouched."""

from __future__ import annotations

import subprocess

import pytest

from tests.cluster.kube import CONTEXT, Release, helm, kubectl, port_forward
from tests.support import ROOT, ends_at_its_checksum, visit_count, wait_until


def snapshot(release: Release, action: str, path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", action, f"FILE={path}", f"RELEASE_NAME={release.name}",
         f"RELEASE_NAMESPACE={release.namespace}", f"KUBE_CONTEXT={CONTEXT}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)


def visit(release: Release) -> int:
    """One counted visit through the Service; the count it shows."""
    with port_forward(release.namespace, f"service/{release.service}", 80) as url:
        return wait_until(lambda: visit_count(url), timeout=90, interval=0.5, message="a counted visit")


def redis_uid(release: Release) -> str:
    return kubectl("-n", release.namespace, "get", "pod", f"{release.fullname}-redis-0",
                   "-o", "jsonpath={.metadata.uid}").stdout


@pytest.fixture
def counted(release, tmp_path):
    """The release installed and counted to a few visits, and a snapshot of it."""
    release.install()
    for _ in range(3):
        count = visit(release)
    path = tmp_path / "friendlyhello.rdb"
    result = snapshot(release, "backup", path)
    assert result.returncode == 0, result.stdout + result.stderr
    data = path.read_bytes()
    assert data.startswith(b"REDIS") and ends_at_its_checksum(data), data[-60:]
    return count, path


def test_a_snapshot_comes_back_after_the_release_and_its_volume_are_gone(release, counted):
    count, path = counted
    assert visit(release) == count + 1, "counting goes on after the snapshot"
    release_pvc = f"pvc/data-{release.fullname}-redis-0"
    old_volume = kubectl("-n", release.namespace, "get", release_pvc, "-o", "jsonpath={.metadata.uid}").stdout
    helm("uninstall", release.name, "--namespace", release.namespace, "--wait", timeout=300)
    kubectl("-n", release.namespace, "delete", release_pvc, "--ignore-not-found", "--wait=true", "--timeout=120s")
    release.install()
    assert kubectl("-n", release.namespace, "get", release_pvc, "-o", "jsonpath={.metadata.uid}").stdout != old_volume
    assert visit(release) == 1, "a new volume starts from nothing"

    result = snapshot(release, "restore", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert visit(release) == count + 1, "the page counts on from the snapshot"
    # The restored data is Redis's own now: a new pod reads it from the volume.
    kubectl("-n", release.namespace, "delete", "pod", f"{release.fullname}-redis-0", "--wait=true")
    kubectl("-n", release.namespace, "rollout", "status", f"statefulset/{release.fullname}-redis", "--timeout=180s")
    assert visit(release) == count + 2, "the restored count and the visit after it survive a restart"


def test_a_file_the_release_cannot_load_is_refused_and_the_count_goes_on(release, counted):
    count, path = counted
    good = path.read_bytes()
    # Each bad file and the reason its refusal gives.
    bad_files = {
        "not an RDB": (b"visits=41\n", "is not a Redis RDB snapshot"),
        # The format version in the header: one no Redis writes yet.
        "a newer Redis's": (b"REDIS0099" + good[9:], "Can't handle RDB format version 99"),
        "damaged": (good[: len(good) // 2], "Unexpected EOF"),
        # What `redis-cli --rdb -` leaves after a diskless transfer: its end marker.
        "with bytes after its end": (good + b"0123456789" * 4, "format error"),
    }
    before = redis_uid(release)
    for bad, (content, reason) in bad_files.items():
        broken = path.with_name(f"{bad.replace(' ', '-')}.rdb")
        broken.write_bytes(content)
        result = snapshot(release, "restore", broken)
        output = result.stdout + result.stderr
        assert result.returncode != 0, f"{bad}: {output}"
        refusals = [line for line in output.splitlines() if "error:" in line]
        assert len(refusals) == 1 and str(broken) in refusals[0] and reason in refusals[0], f"{bad}: {output}"
        print(f"{bad}: {refusals[0]}")
        assert redis_uid(release) == before, f"{bad}: Redis was not restarted"
        count += 1
        assert visit(release) == count, f"{bad}: the count is untouched"

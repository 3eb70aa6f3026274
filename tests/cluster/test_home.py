"""A developer's machine stays theirs: `make up` run with a throwaway HOME
writes nothing there but the caches and kind's context in the kubeconfig."""

import os
import re
import subprocess
from pathlib import Path

from tests.support import ROOT

# Under HOME, what the project may write: Go's and pip's caches, its own cache,
# and the kubeconfig kind writes its context into; beside them the state the
# clients keep for any use (kubectl's and Helm's caches, BuildKit's node id).
ALLOWED = re.compile(r"^(\.cache/(go-build|pip|friendlyhello|helm)|go/pkg/mod|\.kube/(config|cache)"
                     r"|\.config/helm|\.local/share/helm|\.docker/\.buildNodeID)(/|$)")


def go_env(name: str) -> str:
    return subprocess.run(["go", "env", name], capture_output=True, text=True, check=True).stdout.strip()


def written_under(home: Path) -> list[str]:
    return sorted(str(path.relative_to(home)) for path in home.rglob("*") if not path.is_dir() or path.is_symlink())


def test_make_up_writes_only_caches_and_the_kubeconfig_under_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # Go's caches stay where they are (they are allowed, and a new one would rebuild every tool).
    env = {**os.environ, "HOME": str(home), "GOCACHE": go_env("GOCACHE"), "GOMODCACHE": go_env("GOMODCACHE")}
    env.pop("KUBECONFIG", None)
    env.pop("DOCKER_CONFIG", None)
    result = subprocess.run(["make", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    written = written_under(home)
    assert ".kube/config" in written, "kind's context was written to the kubeconfig"
    stray = [path for path in written if not ALLOWED.match(path)]
    assert not stray, f"make up wrote outside the caches and the kubeconfig: {stray}"


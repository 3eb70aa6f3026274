"""hack/chart_values.py, which make release runs on the packaged chart's
values.yaml: it sets the image and keeps every comment `helm show values`
prints; a key it cannot find fails and changes nothing."""

import subprocess
import sys

import yaml

from tests.support import CHART, ROOT

SCRIPT = ROOT / "hack/chart_values.py"


def set_values(path, *assignments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(path), *assignments], capture_output=True, text=True,
                          timeout=60)


def test_sets_the_image_and_keeps_the_comments(tmp_path):
    values = tmp_path / "values.yaml"
    original = (CHART / "values.yaml").read_text()
    values.write_text(original)
    result = set_values(values, "image.repository=registry.example/friendlyhello", "image.tag=1.2.3",
                        "image.digest=sha256:" + "a" * 64)
    assert result.returncode == 0, result.stderr
    changed = values.read_text()
    assert yaml.safe_load(changed)["image"] == {**yaml.safe_load(original)["image"],
                                                "repository": "registry.example/friendlyhello", "tag": "1.2.3",
                                                "digest": "sha256:" + "a" * 64}
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    assert comments == [line for line in changed.splitlines() if line.lstrip().startswith("#")]
    assert len(original.splitlines()) == len(changed.splitlines())


def test_a_missing_key_fails_and_changes_nothing(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text((CHART / "values.yaml").read_text())
    result = set_values(values, "image.tag=1.2.3", "image.nope=1")
    assert result.returncode != 0
    assert result.stderr.strip() == "chart_values: no 'nope' in 'image'"
    assert values.read_text() == (CHART / "values.yaml").read_text()

"""Files generated from the chart are up to date with it."""

import subprocess
import sys

from tests.support import ROOT, tool


def test_plain_manifests_match_the_chart():
    tool("helm")
    result = subprocess.run([str(ROOT / "hack/manifests.sh"), "--check"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def test_kustomization_lists_the_manifests():
    import yaml

    kustomization = yaml.safe_load((ROOT / "k8s/kustomization.yaml").read_text())
    assert kustomization["resources"] == ["namespace.yaml", "friendlyhello.yaml"]
    namespace = yaml.safe_load((ROOT / "k8s/namespace.yaml").read_text())
    rendered = [doc for doc in yaml.safe_load_all((ROOT / "k8s/friendlyhello.yaml").read_text()) if doc]
    assert {doc["metadata"]["namespace"] for doc in rendered} == {namespace["metadata"]["name"]}


def test_chart_readme_values_table_is_current():
    result = subprocess.run([sys.executable, str(ROOT / "hack/chart_readme.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_every_value_is_documented():
    sys.path.insert(0, str(ROOT / "hack"))
    import yaml
    from chart_readme import documented_keys

    text = (ROOT / "chart/values.yaml").read_text()
    documented = {key for key, _ in documented_keys(text.splitlines())}

    def leaves(values, prefix=""):
        for key, value in values.items():
            dotted = f"{prefix}{key}"
            if dotted in documented:
                continue
            assert isinstance(value, dict) and value, f"{dotted} has no '# --' comment"
            yield from leaves(value, dotted + ".")

    list(leaves(yaml.safe_load(text)))

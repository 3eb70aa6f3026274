"""Bad values are refused by values.schema.json before anything is rendered."""

from pathlib import Path

import pytest

from tests.support import CHART, helm

BAD_VALUES = sorted((Path(__file__).parent / "bad-values").glob("*.yaml"))


def expected_key(path: Path) -> str:
    """Each bad values file names, on its first line, the key the error must name."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} lacks its '# expect:' line"
    return first.removeprefix("# expect: ").strip()


def test_there_are_enough_bad_values_files():
    assert len(BAD_VALUES) >= 10


@pytest.mark.parametrize("path", BAD_VALUES, ids=[p.stem for p in BAD_VALUES])
def test_bad_values_are_refused_with_the_key_named(path):
    result = helm("template", "rel", str(CHART), "-f", str(path), check=False)
    assert result.returncode != 0, result.stdout[:500]
    assert "values don't meet the specifications of the schema" in result.stderr
    assert expected_key(path) in result.stderr, result.stderr

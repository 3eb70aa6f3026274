"""ruff (pinned in the test lock, configured in pyproject.toml) passes on every Python file."""

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_ruff_passes():
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "--no-cache", str(ROOT)], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

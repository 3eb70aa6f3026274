"""Writes chart/README.md's values table from the "# --" comments in values.yaml.

usage: python hack/chart_readme.py [--check]
  --check  exit 1 when chart/README.md differs from what would be written
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "chart"
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"


def documented_keys(lines: list[str]) -> list[tuple[str, str]]:
    """(dotted key, description) for every key with a "# --" comment above it."""
    keys, stack, pending = [], [], None
    for line in lines:
        comment = re.match(r"^\s*# -- (.*)$", line)
        if comment:
            pending = comment.group(1)
            continue
        key = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9]*):", line)
        if not key:
            continue
        depth = len(key.group(1)) // 2
        stack[depth:] = [key.group(2)]
        if pending:
            keys.append((".".join(stack), pending))
            pending = None
    return keys


def lookup(values: dict, dotted: str):
    for part in dotted.split("."):
        values = values[part]
    return values


def table() -> str:
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    rows = ["| Key | Default | Description |", "| --- | --- | --- |"]
    for key, description in documented_keys(text.splitlines()):
        default = json.dumps(lookup(values, key), separators=(", ", ": "))
        rows.append(f"| `{key}` | `{default}` | {description} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main() -> int:
    path = CHART / "README.md"
    current = path.read_text()
    wanted = render(current)
    if "--check" in sys.argv[1:]:
        if current != wanted:
            print("chart/README.md is out of date with values.yaml: run make chart-readme",
                  file=sys.stderr)
            return 1
        return 0
    path.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())

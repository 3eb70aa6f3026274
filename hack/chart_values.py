"""Sets values in a chart's values.yaml in place, keeping its comments (which
`helm show values` prints to users): each SECTION.KEY=VALUE replaces the value
of KEY in the top-level mapping SECTION, as a quoted string. Fails, changing
nothing, when a key is missing or the file would not then hold exactly the
values asked for.

usage: python hack/chart_values.py VALUES_YAML SECTION.KEY=VALUE...
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml


def set_values(text: str, assignments: dict[tuple[str, str], str]) -> str:
    lines = text.splitlines(keepends=True)
    for (section, key), value in assignments.items():
        start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(section)}:\s*(#.*)?$", line)), None)
        if start is None:
            raise SystemExit(f"chart_values: no top-level '{section}:' mapping")
        for i in range(start + 1, len(lines)):
            if re.match(r"\S", lines[i]):
                raise SystemExit(f"chart_values: no '{key}' in '{section}'")
            match = re.match(rf"(  {re.escape(key)}:)\s.*?(\s+#.*)?$", lines[i].rstrip("\n"))
            if match:
                lines[i] = f"{match.group(1)} {json.dumps(value)}{match.group(2) or ''}\n"
                break
        else:
            raise SystemExit(f"chart_values: no '{key}' in '{section}'")
    result = "".join(lines)
    loaded = yaml.safe_load(result)
    for (section, key), value in assignments.items():
        if loaded[section][key] != value:
            raise SystemExit(f"chart_values: {section}.{key} reads {loaded[section][key]!r}, not {value!r}")
    return result


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not all(re.fullmatch(r"[^.=]+\.[^.=]+=.*", arg) for arg in argv[1:]):
        raise SystemExit("usage: python hack/chart_values.py VALUES_YAML SECTION.KEY=VALUE...")
    path = Path(argv[0])
    assignments = {}
    for arg in argv[1:]:
        name, value = arg.split("=", 1)
        section, key = name.split(".")
        assignments[(section, key)] = value
    path.write_text(set_values(path.read_text(), assignments))


if __name__ == "__main__":
    main(sys.argv[1:])

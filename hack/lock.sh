#!/usr/bin/env bash
# Re-pins the Python dependency tree (with hashes) from pyproject.toml.
# usage: hack/lock.sh        (needs pip-tools in .venv: make venv)
set -euo pipefail
cd "$(dirname "$0")/.."
compile() {
  .venv/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
    --no-emit-index-url --no-emit-find-links "$@" pyproject.toml
}
compile --output-file requirements.lock
compile --extra test --output-file requirements-test.lock
echo "lock: requirements.lock and requirements-test.lock updated"

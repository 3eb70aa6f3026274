#!/usr/bin/env bash
# Re-pins the Python dependency trees (with hashes) from pyproject.toml and
# hack/requirements.in.
# usage: hack/lock.sh        (needs pip-tools in .venv: make venv)
set -euo pipefail
cd "$(dirname "$0")/.."
compile() { # [OPTION...] SOURCE...
  .venv/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
    --no-emit-index-url --no-emit-find-links "$@"
}
compile --output-file requirements.lock pyproject.toml
compile --output-file hack/requirements.lock hack/requirements.in
compile --extra test --output-file requirements-test.lock pyproject.toml hack/requirements.in
echo "lock: requirements.lock, requirements-test.lock and hack/requirements.lock updated"

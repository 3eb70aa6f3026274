#!/usr/bin/env bash
# Installs the Debian packages the tests, benchmark and scripts use: redis-server,
# wrk, jq and shellcheck.
# usage: hack/system-deps.sh        (as root, or with sudo available)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

apt_install redis-server redis-tools wrk jq shellcheck
# Tests start their own redis-server on a free port; the packaged service is not needed.
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
  as_root systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
log "redis-server, wrk, jq and shellcheck installed"

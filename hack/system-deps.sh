#!/usr/bin/env bash
# Installs the Debian packages the tests, benchmark and scripts use:
# redis-server, wrk, shellcheck, and chromium (the page's check in a real
# browser). A redis-server service the package starts is left as it is: the
# tests start their own redis-server on a free port.
# usage: hack/system-deps.sh        (as root, or with sudo available)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

apt_install redis-server redis-tools wrk shellcheck chromium
log "redis-server, wrk, shellcheck and chromium installed"

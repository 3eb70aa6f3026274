#!/usr/bin/env bash
# Installs the Debian packages the tests, benchmark and scripts use: redis-server,
# wrk and shellcheck. A redis-server service the package starts is left as it
# is: the tests start their own redis-server on a free port.
# usage: hack/system-deps.sh        (as root, or with sudo available)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

apt_install redis-server redis-tools wrk shellcheck
log "redis-server, wrk and shellcheck installed"

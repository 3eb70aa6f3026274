#!/usr/bin/env bash
# Installs the Debian packages the tests, benchmark and scripts use:
# redis-server, wrk, shellcheck, and chromium (the page's check in a real
# browser). A redis-server service the package starts is left as it is: the
# tests start their own redis-server on a free port.
# usage: hack/system-deps.sh        (as root, or with sudo available)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

packages=(redis-server redis-tools wrk shellcheck)
# A Chromium or Chrome already here will do (GitHub's runners have Chrome).
command -v chromium >/dev/null || command -v google-chrome >/dev/null || packages+=(chromium)
apt_install "${packages[@]}"
log "redis-server, wrk, shellcheck and a Chromium present"

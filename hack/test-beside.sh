#!/usr/bin/env bash
# Runs make's FOREGROUND target and, beside it at the lowest CPU priority,
# make's BACKGROUND targets one after another. make test uses it for the
# cluster suite, which mostly waits (rollouts, probes, the alert and
# scale-down windows): builds that only later tests need take that idle CPU,
# and leave the cluster's alone. The background's output follows the
# foreground's; it fails if either part failed.
# usage: hack/test-beside.sh FOREGROUND_TARGET BACKGROUND_TARGET...
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || { echo "usage: hack/test-beside.sh FOREGROUND_TARGET BACKGROUND_TARGET..." >&2; exit 2; }
foreground=$1
shift
output=$(mktemp)
log "make $foreground, with make $* beside it at nice 19 (its output after)"
# A session of its own, so that an interrupted run stops the whole background.
setsid nice -n 19 make -C "$root" --no-print-directory "$@" >"$output" 2>&1 &
background=$!
trap 'kill -- -"$background" 2>/dev/null; rm -f "$output"' INT TERM
trap 'rm -f "$output"' EXIT
status=0
make -C "$root" --no-print-directory "$foreground" || status=$?
background_status=0
wait "$background" || background_status=$?
log "make $* (beside make $foreground) said:"
cat "$output" >&2
[ "$background_status" -eq 0 ] || { log "make $* failed (exit $background_status)"; status=2; }
exit "$status"

#!/usr/bin/env bash
# Prints the flags dockerd needs on this host beyond its defaults, one per
# line; nothing on a usual host. Where the capability bounding set lacks
# capabilities that privileged containers get (kind nodes are privileged:
# some sandboxes and nested VMs), it installs hack/host/runc-capbnd, which
# drops just those, and names it dockerd's default runtime.
# usage: hack/host/dockerd-flags.sh       (as root, or with sudo available)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

full_set=$(( (1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1 ))
bounding=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
(( bounding != full_set )) || exit 0
apt_install jq # the wrapper reads the container's spec with it
wrapper=/usr/local/libexec/friendlyhello/runc-capbnd
as_root install -D -m 0755 "$root/hack/host/runc-capbnd" "$wrapper"
log "capability bounding set $(printf '%#x' "$bounding") lacks some capabilities: installed $wrapper (undo: rm $wrapper)"
printf '%s\n' --add-runtime "runc-capbnd=$wrapper" --default-runtime runc-capbnd

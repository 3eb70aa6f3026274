#!/usr/bin/env bash
# Makes sure a Docker engine answers. Where none runs, installs Debian's
# docker.io and starts dockerd in the background (log: /var/log/dockerd.log).
# On a host whose capability bounding set lacks capabilities that privileged
# containers get (kind nodes are privileged), dockerd's default runtime becomes
# hack/runc-capbnd, which drops just those. Stops nothing it did not start.
# usage: hack/docker-engine.sh
set -euo pipefail

source "$(dirname "$0")/lib.sh"

if docker info >/dev/null 2>&1; then
  log "engine answers ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { log "no engine answers; start Docker, or run this as root to install one"; exit 1; }

command -v dockerd >/dev/null || apt_install docker.io iptables
apt_install jq

flags=()
full_set=$(( (1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1 ))
bounding=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
if (( bounding != full_set )); then
  wrapper=/usr/local/libexec/friendlyhello/runc-capbnd
  install -D -m 0755 "$root/hack/runc-capbnd" "$wrapper"
  log "capability bounding set $(printf '%#x' "$bounding") lacks some capabilities: default runtime is $wrapper"
  flags+=(--add-runtime "runc-capbnd=$wrapper" --default-runtime runc-capbnd)
fi

log "starting dockerd (log: /var/log/dockerd.log)"
nohup dockerd "${flags[@]}" >/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "engine answers ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60s; last lines of /var/log/dockerd.log:"
tail -n 20 /var/log/dockerd.log >&2
exit 1

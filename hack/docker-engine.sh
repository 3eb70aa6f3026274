#!/usr/bin/env bash
# Makes sure a Docker engine answers; does nothing where one already does.
# Where none does, it installs Debian's docker.io if dockerd is missing, then:
#   - on a host run by systemd, enables and starts the packaged docker.service;
#   - elsewhere (containers, sandboxes), starts dockerd in the background
#     (log: /var/log/dockerd.log).
# dockerd gets the flags this host needs beyond its defaults
# (hack/host/dockerd-flags.sh; under systemd through a drop-in it names). Each
# change to the host is said in one line, with its undo.
# Works as root or, through sudo, as a user who has it.
# usage: hack/docker-engine.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

answers() { docker info >/dev/null 2>&1 || as_root docker info >/dev/null 2>&1; }
if answers; then
  log "engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo "as root"))"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null \
  || die "no Docker engine answers: start one, or run this as root or with sudo to install one"

command -v dockerd >/dev/null || apt_install docker.io iptables
host_flags=$("$root/hack/host/dockerd-flags.sh")
flags=()
[ -z "$host_flags" ] || mapfile -t flags <<<"$host_flags"

wait_for_engine() { # LOG_HINT
  for _ in $(seq 1 60); do
    if answers; then
      log "engine answers ($(as_root docker version --format '{{.Server.Version}}'))"
      return 0
    fi
    sleep 1
  done
  die "dockerd did not answer within 60 s ($1)"
}

if [ -d /run/systemd/system ] && systemctl cat docker.service >/dev/null 2>&1; then
  if [ "${#flags[@]}" -gt 0 ]; then
    dropin=/etc/systemd/system/docker.service.d/friendlyhello-runtime.conf
    # dockerd reads the runtime from its flags; the unit's own ExecStart is kept.
    execstart=$(systemctl show -p ExecStart --value docker.service | sed -nE 's/.*argv\[\]=([^;]*);.*/\1/p' | head -n 1)
    [ -n "$execstart" ] || die "cannot read docker.service's ExecStart"
    as_root mkdir -p "$(dirname "$dropin")"
    printf '[Service]\nExecStart=\nExecStart=%s %s\n' "$execstart" "${flags[*]}" | as_root tee "$dropin" >/dev/null
    as_root systemctl daemon-reload
    log "docker.service runs dockerd with the runtime wrapper: wrote $dropin (undo: rm $dropin && systemctl daemon-reload && systemctl restart docker)"
  fi
  log "enabling and starting docker.service (undo: systemctl disable --now docker.service)"
  as_root systemctl enable --now docker.service >/dev/null
  wait_for_engine "journalctl -u docker.service"
else
  log "starting dockerd in the background (log: /var/log/dockerd.log; stop: kill \$(pidof dockerd))"
  as_root bash -c 'nohup dockerd "$@" >/var/log/dockerd.log 2>&1 &' dockerd "${flags[@]}"
  wait_for_engine "$(as_root tail -n 20 /var/log/dockerd.log 2>/dev/null)"
fi

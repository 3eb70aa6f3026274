#!/usr/bin/env bash
# Builds the stand-in for REDIS_IMAGE where no registry answers: Debian's
# redis-server of REDIS_DEBIAN_SUITE (the same major.minor as REDIS_IMAGE),
# as $STANDIN_REDIS_IMAGE. Like the official image it runs redis-server from
# PATH with /data as its working directory, as UID 999. Prints its reference.
# Reused when present; --force rebuilds it.
# usage: hack/airgap/redis-image.sh [--force]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

reused "$STANDIN_REDIS_IMAGE" "${1:-}" && exit 0
apt_install debootstrap
tree=$(mktemp -d /var/tmp/friendlyhello-redis.XXXXXX)
trap 'rm -rf "$tree" "$tree.log"' EXIT
log "debootstrap $REDIS_DEBIAN_SUITE with redis-server from the host's mirror"
debootstrap --variant=minbase --include=redis-server,redis-tools "$REDIS_DEBIAN_SUITE" "$tree" "$(debian_mirror)" \
  >"$tree.log" 2>&1 || { tail -n 20 "$tree.log" >&2; die "debootstrap of $REDIS_DEBIAN_SUITE failed"; }
# The official image's user and data directory; no packaged configuration (the
# chart and compose bring their own, or none).
chroot "$tree" sh -ec 'groupmod --gid 999 redis && usermod --uid 999 --gid 999 --home /data redis
  rm -rf /etc/redis/redis.conf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*
  mkdir -p /data && chown 999:999 /data'
log "importing as $STANDIN_REDIS_IMAGE"
# As the official image does when given no configuration file: the network,
# not protected mode, decides who reaches it.
tar -C "$tree" -c . | docker import --change 'USER 999:999' --change 'WORKDIR /data' --change 'EXPOSE 6379' \
  --change 'CMD ["redis-server", "--protected-mode", "no"]' - "$STANDIN_REDIS_IMAGE" >/dev/null
log "built $STANDIN_REDIS_IMAGE ($(docker image inspect -f '{{.Size}}' "$STANDIN_REDIS_IMAGE" | numfmt --to=si)B): $(docker run --rm "$STANDIN_REDIS_IMAGE" redis-server --version)"
echo "$STANDIN_REDIS_IMAGE"

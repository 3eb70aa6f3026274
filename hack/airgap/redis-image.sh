#!/usr/bin/env bash
# Builds the stand-in for REDIS_IMAGE where no registry answers: Debian's
# redis-server (the same release) on the local base, as $STANDIN_REDIS_IMAGE.
# Like the official image it runs redis-server from PATH with /data as its
# working directory, as UID 999. Prints its reference. Reused when present;
# --force rebuilds it.
# usage: hack/airgap/redis-image.sh [--force]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "${1:-}" != "--force" ] && image_exists "$STANDIN_REDIS_IMAGE"; then
  log "$STANDIN_REDIS_IMAGE present"
  echo "$STANDIN_REDIS_IMAGE"
  exit 0
fi
"$root/hack/airgap/base-image.sh" >/dev/null
log "building $STANDIN_REDIS_IMAGE"
docker_build --progress=plain --tag "$STANDIN_REDIS_IMAGE" --build-arg "BASE=$STANDIN_BASE_IMAGE" - \
  >"${TMPDIR:-/tmp}/friendlyhello-redis-build.log" 2>&1 <<'DOCKERFILE' \
  || { tail -n 20 "${TMPDIR:-/tmp}/friendlyhello-redis-build.log" >&2; die "redis stand-in build failed"; }
ARG BASE
FROM ${BASE}
RUN groupadd --system --gid 999 redis && useradd --system --uid 999 --gid 999 --home-dir /data redis \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* /etc/redis/redis.conf \
 && mkdir /data && chown redis:redis /data
WORKDIR /data
USER 999:999
EXPOSE 6379
# As the official image does when given no configuration file: the network,
# not protected mode, decides who reaches it.
CMD ["redis-server", "--protected-mode", "no"]
DOCKERFILE
log "built $STANDIN_REDIS_IMAGE ($(docker image inspect -f '{{.Size}}' "$STANDIN_REDIS_IMAGE" | numfmt --to=si)B)"
echo "$STANDIN_REDIS_IMAGE"

#!/usr/bin/env bash
# Builds the web image, makes both images available to the kind cluster, and
# prints the `helm --set` values (one per line) that point the chart at them.
# Redis is loaded into the nodes as well, whether pulled here (from REDIS_IMAGE,
# which may name a mirror the nodes cannot reach) or the local stand-in.
# usage: hack/cluster-images.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export PATH="$root/.tools/bin:$PATH"

image=$("$root/hack/image.sh")
load_into_cluster "$image"
echo "image.repository=${image%:*}"
echo "image.tag=${image##*:}"
redis=$("$root/hack/redis-image.sh")
load_into_cluster "$redis"
echo "redis.image.repository=${redis%:*}"
echo "redis.image.tag=${redis##*:}"

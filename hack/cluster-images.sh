#!/usr/bin/env bash
# Builds the web image, makes both images available to the kind cluster, and
# prints the `helm --set` values (one per line) that point the chart at them.
# The Redis stand-in (where no registry answers) is loaded too; the public
# Redis image is left for the node to pull.
# usage: hack/cluster-images.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export PATH="$root/.tools/bin:$PATH"

image=$("$root/hack/image.sh")
load_into_cluster "$image"
echo "image.repository=${image%:*}"
echo "image.tag=${image##*:}"
redis=$("$root/hack/redis-image.sh")
if [ "$redis" != "$REDIS_IMAGE" ]; then
  load_into_cluster "$redis"
  echo "redis.image.repository=${redis%:*}"
  echo "redis.image.tag=${redis##*:}"
fi

#!/usr/bin/env bash
# Builds the web image, makes both images available to the kind cluster, and
# prints the `helm --set` values (one per line) that point the chart at them.
# Redis (image_for redis) is loaded into the nodes as well, whether pulled here
# (from REDIS_IMAGE, which may name a mirror the nodes cannot reach) or a local
# stand-in.
# usage: hack/cluster-images.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

image=$("$root/hack/image.sh")
redis=$(image_for redis)
[[ $redis != *@* ]] || die "the chart takes Redis by tag: REDIS_IMAGE must be REPOSITORY:TAG, not $redis"
load_into_cluster "$image" "$redis"
echo "image.repository=${image%:*}"
echo "image.tag=${image##*:}"
echo "redis.image.repository=${redis%:*}"
echo "redis.image.tag=${redis##*:}"

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
redis_by_tag "$redis"
load_into_cluster "$image" "$redis"
chart_image_values "$image" "$redis"

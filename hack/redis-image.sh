#!/usr/bin/env bash
# Prints the Redis image to run: REDIS_IMAGE where it can be pulled, else, where
# no registry answers, the local stand-in (hack/airgap/redis-image.sh).
# usage: hack/redis-image.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
image_or_standin "$REDIS_IMAGE" "$root/hack/airgap/redis-image.sh" "about 2 min"

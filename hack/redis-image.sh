#!/usr/bin/env bash
# Prints the Redis image to run: REDIS_IMAGE where it can be pulled, else the
# local stand-in (built by hack/airgap/redis-image.sh when missing).
# usage: hack/redis-image.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
image_or_standin "$REDIS_IMAGE" "$STANDIN_REDIS_IMAGE" "$root/hack/airgap/redis-image.sh"

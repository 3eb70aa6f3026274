#!/usr/bin/env bash
# The air-gapped path's entry, called by image_for (hack/lib.sh) alone: says in
# one line why a local stand-in replaces the public image and what its first
# build costs, builds it (or finds it built) and prints its reference.
# usage: hack/airgap/standin.sh base|redis|node|registry REASON
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || { echo "usage: hack/airgap/standin.sh base|redis|node|registry REASON" >&2; exit 2; }

case $1 in
  base) public=$BASE_IMAGE script=base-image.sh ;;
  redis) public=$REDIS_IMAGE script=redis-image.sh ;;
  node) public=$KIND_NODE_IMAGE script=node-image.sh ;;
  registry) public=$LOCAL_REGISTRY_IMAGE script=registry-image.sh ;;
  *) die "no stand-in for '$1' (base, redis, node or registry)" ;;
esac
log "$public: $2: using a local stand-in from hack/airgap/$script (cached after its first build, whose cost docs/airgap.md gives)"
"$root/hack/airgap/$script" | tail -n 1

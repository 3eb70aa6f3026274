#!/usr/bin/env bash
# The air-gapped path's entry, called by image_for (hack/lib.sh) alone: says in
# one line why a local stand-in replaces the public image and what its first
# build costs, builds it (or finds it built) and prints its reference.
# usage: hack/airgap/standin.sh KIND REASON   (KIND: one of IMAGE_KINDS, hack/lib.sh)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || { echo "usage: hack/airgap/standin.sh $IMAGE_KINDS REASON" >&2; exit 2; }

case $1 in
  base | redis | node | registry) script=$1-image.sh ;;
  *) script=program-image.sh ;;
esac
log "$(public_image "$1"): $2: using a local stand-in from hack/airgap/$script (cached after its first build, whose cost docs/airgap.md gives)"
if [ "$script" = program-image.sh ]; then
  "$root/hack/airgap/$script" "$1" | tail -n 1
else
  "$root/hack/airgap/$script" | tail -n 1
fi

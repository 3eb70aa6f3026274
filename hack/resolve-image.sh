#!/usr/bin/env bash
# Prints the image this machine runs for KIND, pulled or present, or the local
# stand-in where no registry answers (image_for in hack/lib.sh).
#   base:  the service image's base (BASE_IMAGE)
#   redis: Redis for compose and the chart (REDIS_IMAGE)
#   node:  the kind node (KIND_NODE_IMAGE)
#   registry: the kind cluster's registry (LOCAL_REGISTRY_IMAGE)
#   prometheus, prometheus-operator, prometheus-config-reloader: make monitoring's
#   metrics-server: make metrics-server's
# usage: hack/resolve-image.sh KIND
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || { echo "usage: hack/resolve-image.sh $IMAGE_KINDS" >&2; exit 2; }
image_for "$1"

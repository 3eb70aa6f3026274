#!/usr/bin/env bash
# Runs skaffold (skaffold.yaml) against the kind cluster with what it needs:
# the pinned Helm 3 first on PATH (skaffold's Helm deployer does not drive
# Helm 4), the other pinned tools, a docker client that builds with BuildKit,
# and the airgap profile where the public base image cannot be pulled (the
# local stand-ins are built when missing).
# usage: hack/skaffold.sh COMMAND [SKAFFOLD FLAGS...]
#   e.g. hack/skaffold.sh dev --profile dev      (what `make dev` runs)
#        hack/skaffold.sh run                     (build, load, helm upgrade --install)
#        hack/skaffold.sh delete                  (remove the release)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { echo "usage: hack/skaffold.sh COMMAND [SKAFFOLD FLAGS...]" >&2; exit 2; }
cd "$root"
export PATH="$root/.tools/helm3:$root/.tools/bin:$PATH"
# The version is pinned in hack/versions.env: no check for a newer one.
export SKAFFOLD_UPDATE_CHECK=${SKAFFOLD_UPDATE_CHECK:-false}
command=$1
shift

[ -x "$root/.tools/helm3/helm" ] && [ -x "$root/.tools/bin/skaffold" ] \
  || die "skaffold or Helm 3 is missing: run make tools"
# skaffold runs `docker build --load` from PATH (BuildKit, skaffold.yaml).
client=$(buildkit_client) || exit 1
[ "$client" = buildx ] || PATH="$root/hack/buildkit:$PATH"
profiles=()
case $command in
  build | dev | run | render)
    if [ "$(image_or_standin "$BASE_IMAGE" "$root/hack/airgap/base-image.sh" "about 1 min")" != "$BASE_IMAGE" ]; then
      "$root/hack/redis-image.sh" >/dev/null
      profiles=(--profile airgap)
      log "no registry: adding the airgap profile (local base and Redis images)"
    fi
    ;;
esac
exec skaffold "$command" "${profiles[@]}" "$@"

#!/usr/bin/env bash
# Runs skaffold (skaffold.yaml) against the kind cluster with what it needs:
# the pinned Helm 3 first on PATH (skaffold's Helm deployer does not drive
# Helm 4), a docker client that builds with BuildKit, and the images to build
# on and run, from the environment skaffold.yaml reads: BASE_IMAGE and
# REDIS_IMAGE_REPOSITORY/_TAG (image_for base and redis; Redis is loaded into
# the cluster's nodes), and .tools/build-ca.pem, the CA bundle the image build
# hands pip (BUILD_CA_BUNDLE or SSL_CERT_FILE; empty where neither is set).
# usage: hack/skaffold.sh COMMAND [SKAFFOLD FLAGS...]
#   e.g. hack/skaffold.sh dev --profile dev      (what `make dev` runs)
#        hack/skaffold.sh run                     (build, load, helm upgrade --install)
#        hack/skaffold.sh delete                  (remove the release)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { echo "usage: hack/skaffold.sh COMMAND [SKAFFOLD FLAGS...]" >&2; exit 2; }
cd "$root"
export PATH="$root/.tools/helm3:$PATH"
# The version is pinned in hack/versions.env: no check for a newer one.
export SKAFFOLD_UPDATE_CHECK=${SKAFFOLD_UPDATE_CHECK:-false}
command=$1
shift

[ -x "$root/.tools/helm3/helm" ] && [ -x "$root/.tools/bin/skaffold" ] \
  || die "skaffold or Helm 3 is missing: run make tool-skaffold tool-helm3"
# skaffold runs `docker build --load` from PATH (BuildKit); without the buildx
# plugin, Debian's docker.io client does (hack/host/buildkit/docker).
if ! docker buildx version >/dev/null 2>&1; then
  [ -x /usr/bin/docker ] || die "no docker client here builds with BuildKit: install docker's buildx plugin"
  PATH="$root/hack/host/buildkit:$PATH"
fi
# The images to build on and to run: resolved (pulled, or stand-ins built)
# only where skaffold builds or deploys; `delete` needs just their names.
redis=$REDIS_IMAGE
case $command in
  build | dev | run | render)
    BASE_IMAGE=$(image_for base)
    redis=$(image_for redis)
    [ "$command" = build ] || [ "$command" = render ] || load_into_cluster "$redis"
    ;;
esac
[[ $redis != *@* ]] || die "the chart takes Redis by tag: REDIS_IMAGE must be REPOSITORY:TAG, not $redis"
export BASE_IMAGE REDIS_IMAGE_REPOSITORY=${redis%:*} REDIS_IMAGE_TAG=${redis##*:}
ca=${BUILD_CA_BUNDLE:-${SSL_CERT_FILE:-}}
if [ -n "$ca" ] && [ -f "$ca" ]; then cp "$ca" "$root/.tools/build-ca.pem"; else : >"$root/.tools/build-ca.pem"; fi
# The cluster CLUSTER_NAME names (render deploys nothing and takes no context).
context=(--kube-context "kind-$CLUSTER_NAME")
[ "$command" != render ] || context=()
# An empty default repository, given: skaffold would otherwise take the one the
# cluster's local-registry-hosting ConfigMap names (make registry), then
# neither load the image into kind nor push it (push: false).
exec skaffold "$command" "${context[@]}" --default-repo= "$@"

#!/usr/bin/env bash
# Builds the stand-in for a public image that holds one static Go program,
# where no registry answers: the program built from its Go module with the
# flags of its release (hack/go-release.sh), alone in an otherwise empty image
# with the entrypoint and user of the public one. Prints its reference. Reused
# when present; --force rebuilds it.
# usage: hack/airgap/program-image.sh prometheus|prometheus-operator|prometheus-config-reloader|metrics-server [--force]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$root/hack/go-build.sh"
source "$root/hack/go-release.sh"
usage="usage: hack/airgap/program-image.sh prometheus|prometheus-operator|prometheus-config-reloader|metrics-server [--force]"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }

# kind | module | package | version | stand-in repository | path in the image
programs=(
  "prometheus|github.com/prometheus/prometheus|cmd/prometheus|$PROMETHEUS_VERSION|$STANDIN_PROMETHEUS_REPOSITORY|/bin/prometheus"
  "prometheus-operator|github.com/prometheus-operator/prometheus-operator|cmd/operator|$PROMETHEUS_OPERATOR_VERSION|$STANDIN_PROMETHEUS_OPERATOR_REPOSITORY|/bin/operator"
  "prometheus-config-reloader|github.com/prometheus-operator/prometheus-operator|cmd/prometheus-config-reloader|$PROMETHEUS_OPERATOR_VERSION|$STANDIN_PROMETHEUS_CONFIG_RELOADER_REPOSITORY|/bin/prometheus-config-reloader"
  "metrics-server|sigs.k8s.io/metrics-server|cmd/metrics-server|$METRICS_SERVER_VERSION|$STANDIN_METRICS_SERVER_REPOSITORY|/metrics-server"
)
entry=$(printf '%s\n' "${programs[@]}" | grep "^$1|") || { echo "$usage" >&2; exit 2; }
IFS='|' read -r name module package version repository path <<<"$entry"

image="$repository:$version"
reused "$image" "${2:-}" && exit 0
# A build of the same image already under way (make test starts one beside
# the cluster suite) is waited for, not repeated.
mkdir -p "$CACHE_DIR/locks"
exec 9>"$CACHE_DIR/locks/$name.lock"
flock -n 9 || { log "$name $version: waiting for the build under way"; flock 9; }
reused "$image" "${2:-}" && exit 0
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree$(dirname "$path")" "$tree/tmp"
log "$name $version: building $module/$package"
start=$SECONDS
build "$name" "$module" "$package" "$version" "$tree$path" >"$tree.log" 2>&1 \
  || { tail -n 20 "$tree.log" >&2; rm -f "$tree.log"; die "$name: build failed"; }
rm -f "$tree.log"
# As its release says it is: the version flags took.
"$tree$path" --version 2>&1 | grep -F "${version#v}" >/dev/null \
  || die "$name: built, but --version does not say ${version#v}: $("$tree$path" --version 2>&1 | head -n 3)"
chmod 1777 "$tree/tmp"
changes=(--change "ENTRYPOINT [\"$path\"]" --change "USER 65534")
if [ "$name" = prometheus ]; then
  # The public image's data directory, the working directory it runs in,
  # writable by the user it runs as.
  mkdir -p "$tree/prometheus"
  chmod 1777 "$tree/prometheus"
  changes+=(--change "WORKDIR /prometheus")
fi
log "importing $name ($((SECONDS - start)) s to build) as $image"
tar -C "$tree" --owner=0 --group=0 -c . | docker import "${changes[@]}" - "$image" >/dev/null
echo "$image"

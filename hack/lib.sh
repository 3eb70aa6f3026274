# Sourced by the scripts in hack/: the repo root, the pinned tools first on
# PATH, the pinned versions and shared names, a log line with the seconds
# since the script started, and image_for, where the main path meets the
# air-gapped one.
# shellcheck shell=bash
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# These names may be pointed elsewhere on make's command line, e.g. `make
# cluster KIND_NODE_IMAGE=host/kindest/node:tag` (make passes them on), or in
# the environment of a script run directly; every other value comes from
# versions.env alone.
declare -A overridden=()
for name in KIND_NODE_IMAGE BASE_IMAGE REDIS_IMAGE CLUSTER_NAME RELEASE_NAME RELEASE_NAMESPACE; do
  [ -z "${!name:-}" ] || overridden[$name]=${!name}
done
# shellcheck source=versions.env
source "$root/hack/versions.env"
for name in "${!overridden[@]}"; do printf -v "$name" '%s' "${overridden[$name]}"; done
unset overridden
# The tools hack/tools.sh put there (make's targets did, before a script runs).
export PATH="$root/.tools/bin:$PATH"
# What the scripts keep between runs and clones (the node build, kind's host
# mounts, build locks).
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/friendlyhello
started_at=$SECONDS

log() { printf '%s [%4ss] %s\n' "$(basename "$0" .sh)" "$((SECONDS - started_at))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs a command as root: directly when root already, else through sudo.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian PACKAGES that are missing. apt allows one writer at a
# time and `make prepare` runs scripts side by side, so they queue on a lock.
apt_install() { # PACKAGE...
  local package missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep "install ok installed" >/dev/null \
      || missing+=("$package")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  log "installing ${missing[*]} (apt-get)"
  # shellcheck disable=SC2016 # expanded by the inner bash
  as_root env DEBCONF_NOWARNINGS=yes flock /var/lock/friendlyhello-apt.lock bash -c 'apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "$@" >/dev/null' apt_install "${missing[@]}"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# This host's architecture as container platforms name it (amd64, arm64).
host_arch() { case $(uname -m) in x86_64) echo amd64 ;; aarch64 | arm64) echo arm64 ;; *) uname -m ;; esac; }

# Docker's words for "no registry can be reached from here": name resolution,
# connection, TLS. Any other pull failure is the image's or the account's fault.
registry_unreachable() { # DOCKER_MESSAGE
  grep -qiE 'no such host|server misbehaving|connection refused|connection reset|no route to host|network is unreachable|i/o timeout|Client\.Timeout|TLS handshake|tls: |x509: ' <<<"$1"
}

# What image_for knows: the public images of versions.env, each with a local
# stand-in under hack/airgap/.
IMAGE_KINDS="base|redis|node|registry|prometheus|prometheus-operator|prometheus-config-reloader|metrics-server"

public_image() { # KIND
  case $1 in
    base) echo "$BASE_IMAGE" ;;
    redis) echo "$REDIS_IMAGE" ;;
    node) echo "$KIND_NODE_IMAGE" ;;
    registry) echo "$LOCAL_REGISTRY_IMAGE" ;;
    prometheus) echo "$PROMETHEUS_REPOSITORY:$PROMETHEUS_VERSION" ;;
    prometheus-operator) echo "$PROMETHEUS_OPERATOR_REPOSITORY:$PROMETHEUS_OPERATOR_VERSION" ;;
    prometheus-config-reloader) echo "$PROMETHEUS_CONFIG_RELOADER_REPOSITORY:$PROMETHEUS_OPERATOR_VERSION" ;;
    metrics-server) echo "$METRICS_SERVER_REPOSITORY:$METRICS_SERVER_VERSION" ;;
    *) die "no image kind '$1' ($IMAGE_KINDS)" ;;
  esac
}

# Prints the image to run for KIND (one of IMAGE_KINDS) on this
# host's platform: the public one of versions.env where it is here for that
# platform or can be pulled. Only
# where no registry can be reached, or with AIRGAP=1, the air-gapped path
# builds a local stand-in and says so in one line: this is the one place the
# two paths meet. Any other pull failure ("manifest unknown", "unauthorized",
# "too many requests") stops the script with docker's message; AIRGAP=0
# forbids the stand-in, so an unreachable registry stops it too.
image_for() { # KIND
  local kind=$1 platform image message
  platform=linux/$(host_arch)
  image=$(public_image "$kind")
  case "${AIRGAP:-}" in
    1) "$root/hack/airgap/standin.sh" "$kind" "AIRGAP=1" | tail -n 1; return ;;
    0 | "") ;;
    *) die "AIRGAP must be 1 (build stand-ins), 0 (never) or unset (decide), not '$AIRGAP'" ;;
  esac
  # A local image is one platform's: a multi-platform image pulled for
  # another platform before is pulled again for this one.
  if [ "$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$image" 2>/dev/null)" = "$platform" ]; then
    log "using $image (present here)"
  elif message=$(docker pull --quiet --platform "$platform" "$image" 2>&1); then
    log "pulled $image ($platform)"
  else
    message=$(grep -v '^$' <<<"$message" | tail -n 1)
    registry_unreachable "$message" || die "cannot pull $image: $message"
    [ "${AIRGAP:-}" != 0 ] || die "cannot pull $image and AIRGAP=0 forbids a local stand-in: $message"
    "$root/hack/airgap/standin.sh" "$kind" "no registry reachable ($message)" | tail -n 1
    return
  fi
  echo "$image"
}

app_version() { sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$root/app/__init__.py"; }

# Builds with BuildKit (the builds' secret mount needs it): docker's buildx
# plugin where there is one, else Debian's docker.io client, which has BuildKit
# built in (docker-engine.sh installs it).
docker_build() {
  if docker buildx version >/dev/null 2>&1; then
    docker buildx build --load "$@"
  elif [ -x /usr/bin/docker ] && DOCKER_BUILDKIT=1 /usr/bin/docker build --help 2>&1 | grep -- '--secret' >/dev/null; then
    DOCKER_BUILDKIT=1 /usr/bin/docker build "$@"
  else
    die "no docker client here builds with BuildKit: install docker's buildx plugin (docker-buildx)"
  fi
}

# The chart takes Redis by tag (redis.image.tag), not by digest.
redis_by_tag() { # REDIS
  [[ $1 != *@* ]] || die "the chart takes Redis by tag: REDIS_IMAGE must be REPOSITORY:TAG, not $1"
}

# The `helm --set` values (one per line) that point the chart at the web
# image and Redis (by tag: redis_by_tag).
chart_image_values() { # IMAGE REDIS
  echo "image.repository=${1%:*}"
  echo "image.tag=${1##*:}"
  echo "redis.image.repository=${2%:*}"
  echo "redis.image.tag=${2##*:}"
}

# Loads local images into the kind cluster's nodes that lack them, in one
# `kind load` (one archive of those images, into those nodes). Nodes with the
# control plane's NoSchedule taint are left out: no pod of the project's runs
# there.
load_into_cluster() { # IMAGE...
  local node image nodes missing_images=() missing_nodes=()
  local nodes_taking_pods='{{range .items}}{{$plane := false}}{{range .spec.taints}}
    {{- if and (eq .key "node-role.kubernetes.io/control-plane") (eq .effect "NoSchedule")}}{{$plane = true}}{{end}}
    {{- end}}{{if not $plane}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}'
  nodes=$(kubectl --context "kind-$CLUSTER_NAME" get nodes -o go-template="$nodes_taking_pods")
  [ -n "$nodes" ] || die "cluster $CLUSTER_NAME has no node that takes pods"
  for image in "$@"; do
    for node in $nodes; do
      if ! docker exec "$node" crictl inspecti "$image" >/dev/null 2>&1; then
        missing_images+=("$image")
        [[ " ${missing_nodes[*]} " == *" $node "* ]] || missing_nodes+=("$node")
      fi
    done
  done
  if [ "${#missing_images[@]}" -eq 0 ]; then
    log "$* already in cluster $CLUSTER_NAME"
    return
  fi
  mapfile -t missing_images < <(printf '%s\n' "${missing_images[@]}" | sort -u)
  log "kind load docker-image ${missing_images[*]} (nodes: ${missing_nodes[*]})"
  kind load docker-image "${missing_images[@]}" --name "$CLUSTER_NAME" \
    --nodes "$(IFS=,; echo "${missing_nodes[*]}")" >/dev/null
}

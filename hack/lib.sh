# Sourced by the scripts in hack/: the repo root, the pinned versions and
# shared names, and a log line with the seconds since the script started.
# shellcheck shell=bash
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$root/hack/versions.env"
# shellcheck source=airgap/standins.env
source "$root/hack/airgap/standins.env"
started_at=$SECONDS
# Where the local kind node image's build keeps its results between runs and clones.
NODE_CACHE=${NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/friendlyhello/kind-node}

log() { printf '%s [%4ss] %s\n' "$(basename "$0" .sh)" "$((SECONDS - started_at))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Present locally, or pulled now; false where no registry answers.
image_available() { image_exists "$1" || docker pull --quiet "$1" >/dev/null 2>&1; }

app_version() { sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$root/app/__init__.py"; }

# A client that builds with BuildKit (needed for the build's secret mount):
# buildx where installed, else a client with BuildKit built in (Debian's docker.io).
docker_build() {
  if docker buildx version >/dev/null 2>&1; then
    docker buildx build --load "$@"
  elif [ -x /usr/bin/docker ] && DOCKER_BUILDKIT=1 /usr/bin/docker build --help 2>&1 | grep -q -- '--secret'; then
    DOCKER_BUILDKIT=1 /usr/bin/docker build "$@"
  else
    DOCKER_BUILDKIT=1 docker build "$@"
  fi
}

# Prints PUBLIC where it can be had; else builds the stand-in with BUILD_SCRIPT
# and prints STANDIN.
image_or_standin() { # PUBLIC STANDIN BUILD_SCRIPT
  if image_available "$1"; then
    echo "$1"
  else
    log "$1 cannot be pulled: using the local stand-in $2"
    "$3" >&2
    echo "$2"
  fi
}

# Loads a local image into the kind cluster unless its node already has it.
load_into_cluster() { # IMAGE
  local node="$CLUSTER_NAME-control-plane"
  if docker exec "$node" crictl inspecti "$1" >/dev/null 2>&1; then
    log "$1 already in cluster $CLUSTER_NAME"
  else
    log "kind load docker-image $1"
    kind load docker-image "$1" --name "$CLUSTER_NAME" >/dev/null
  fi
}

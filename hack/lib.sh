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

# Runs a command as root: directly when root already, else through sudo.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian PACKAGES that are missing. apt allows one writer at a
# time and `make prepare` runs scripts side by side, so they queue on a lock.
apt_install() { # PACKAGE...
  local package missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
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

# Present locally, or pulled now; false where no registry answers.
image_available() { image_exists "$1" || docker pull --quiet "$1" >/dev/null 2>&1; }

app_version() { sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$root/app/__init__.py"; }

# Which docker client builds with BuildKit (the builds' secret mount needs it):
# "buildx" where docker has that plugin, else "debian" for Debian's docker.io
# client, which has BuildKit built in (docker-engine.sh installs it).
buildkit_client() {
  if docker buildx version >/dev/null 2>&1; then
    echo buildx
  elif [ -x /usr/bin/docker ] && DOCKER_BUILDKIT=1 /usr/bin/docker build --help 2>&1 | grep -q -- '--secret'; then
    echo debian
  else
    die "no docker client here builds with BuildKit: install docker's buildx plugin (docker-buildx)"
  fi
}

docker_build() {
  local client
  client=$(buildkit_client) || exit 1
  if [ "$client" = buildx ]; then
    docker buildx build --load "$@"
  else
    DOCKER_BUILDKIT=1 /usr/bin/docker build "$@"
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

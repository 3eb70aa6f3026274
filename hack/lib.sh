# Sourced by the scripts in hack/: the repo root, the pinned versions and
# shared names, and a log line with the seconds since the script started.
# shellcheck shell=bash
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# These names may be pointed elsewhere from the environment (make passes its
# command-line variables on), e.g. `make cluster KIND_NODE_IMAGE=host/kindest/node:tag`;
# every other value comes from versions.env alone.
declare -A overridden=()
for name in KIND_NODE_IMAGE BASE_IMAGE REDIS_IMAGE CLUSTER_NAME; do
  [ -z "${!name:-}" ] || overridden[$name]=${!name}
done
# shellcheck source=versions.env
source "$root/hack/versions.env"
for name in "${!overridden[@]}"; do printf -v "$name" '%s' "${overridden[$name]}"; done
unset overridden
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

# Docker's words for "no registry can be reached from here": name resolution,
# connection, TLS. Any other pull failure is the image's or the account's fault.
registry_unreachable() { # DOCKER_MESSAGE
  grep -qiE 'no such host|server misbehaving|connection refused|connection reset|no route to host|network is unreachable|i/o timeout|Client\.Timeout|TLS handshake|tls: |x509: ' <<<"$1"
}

# True when IMAGE is here or was pulled now. False (with $fallback_reason set)
# only when no registry can be reached, or AIRGAP=1: the caller may then build
# a local stand-in. Any other pull failure (a missing tag, "unauthorized", "too
# many requests") stops the script with docker's message. AIRGAP=0 forbids the
# fallback: an unreachable registry stops the script too.
fallback_reason=""
pull_image() { # IMAGE
  local image=$1 message
  case "${AIRGAP:-}" in
    1) fallback_reason="AIRGAP=1"; return 1 ;;
    0 | "") ;;
    *) die "AIRGAP must be 1 (build stand-ins), 0 (never) or unset (decide), not '$AIRGAP'" ;;
  esac
  if image_exists "$image"; then
    log "using $image (present here)"
    return 0
  fi
  if message=$(docker pull --quiet "$image" 2>&1); then
    log "pulled $image"
    return 0
  fi
  message=$(grep -v '^$' <<<"$message" | tail -n 1)
  if ! registry_unreachable "$message"; then
    die "cannot pull $image: $message"
  fi
  [ "${AIRGAP:-}" != 0 ] || die "cannot pull $image and AIRGAP=0 forbids a local stand-in: $message"
  fallback_reason="no registry reachable ($message)"
  return 1
}

# Prints PUBLIC when it is here or can be pulled; else, where no registry
# answers, runs BUILD_SCRIPT (which prints the stand-in's reference) and
# prints that. Says in one line which it did and what the build costs.
image_or_standin() { # PUBLIC BUILD_SCRIPT FIRST_BUILD_TIME
  if pull_image "$1"; then
    echo "$1"
    return
  fi
  log "$1: $fallback_reason: using a local stand-in from ${2#"$root/"} (first build $3, cached after)"
  "$2" | tail -n 1
}

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

# Loads a local image into the kind cluster's nodes that lack it.
load_into_cluster() { # IMAGE
  local node missing=()
  for node in $(kind get nodes --name "$CLUSTER_NAME"); do
    docker exec "$node" crictl inspecti "$1" >/dev/null 2>&1 || missing+=("$node")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "$1 already in cluster $CLUSTER_NAME"
  else
    log "kind load docker-image $1 (nodes: ${missing[*]})"
    kind load docker-image "$1" --name "$CLUSTER_NAME" --nodes "$(IFS=,; echo "${missing[*]}")" >/dev/null
  fi
}

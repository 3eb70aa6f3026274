# Shared by the air-gapped path's scripts, on top of hack/lib.sh: the stand-ins'
# names and pins, the node build's cache and the Debian mirror.
# shellcheck shell=bash
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=standins.env
source "$root/hack/airgap/standins.env"
# Where the local kind node image's build keeps its results between runs and clones.
NODE_CACHE=${NODE_CACHE:-$CACHE_DIR/kind-node}

# The Debian mirror this host's apt already uses, so nothing here names one.
debian_mirror() {
  local uri
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v -- '-security' | grep -i debian | head -n1 | awk '{print $2}')
  [ -n "$uri" ] || { echo "no Debian mirror found in /etc/apt/sources*" >&2; return 1; }
  echo "$uri"
}

# reused IMAGE [--force]: a stand-in already built is used as it is (printed,
# and the caller exits), unless --force asks for it to be built again.
reused() {
  [ "${2:-}" != "--force" ] && image_exists "$1" || return 1
  log "$1 present"
  echo "$1"
}

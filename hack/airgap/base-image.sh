#!/usr/bin/env bash
# Builds the stand-in for BASE_IMAGE where no registry answers: a minimal
# Debian (debootstrap --variant=minbase) imported as $STANDIN_BASE_IMAGE.
# Prints its reference. Reused when present; --force rebuilds it.
# usage: hack/airgap/base-image.sh [--force]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "${1:-}" != "--force" ] && image_exists "$STANDIN_BASE_IMAGE"; then
  log "$STANDIN_BASE_IMAGE present"
  echo "$STANDIN_BASE_IMAGE"
  exit 0
fi
apt_install debootstrap
tree=$(mktemp -d /var/tmp/friendlyhello-rootfs.XXXXXX)
trap 'rm -rf "$tree"' EXIT
mirror=$(debian_mirror)
log "debootstrap $DEBIAN_SUITE from the host's mirror"
debootstrap --variant=minbase "$DEBIAN_SUITE" "$tree" "$mirror" >"$tree.log" 2>&1 \
  || { tail -n 20 "$tree.log" >&2; exit 1; }
rm -f "$tree.log"
# Like the official slim images: no package lists or caches, apt over the same mirror.
rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin "$tree"/usr/share/doc/* "$tree"/usr/share/man/*
log "importing as $STANDIN_BASE_IMAGE"
tar -C "$tree" -c . | docker import --change 'CMD ["bash"]' - "$STANDIN_BASE_IMAGE" >/dev/null
log "done: $(docker image inspect -f '{{.Size}}' "$STANDIN_BASE_IMAGE" | numfmt --to=si)B"
echo "$STANDIN_BASE_IMAGE"

#!/usr/bin/env bash
# Builds the stand-in for BASE_IMAGE where no registry answers: a minimal
# Debian (debootstrap --variant=minbase) of this host's platform, imported as
# STANDIN_BASE_IMAGE. (An image for another platform builds on it too: the
# Dockerfile's builder runs on the host's.) Prints its reference. Reused when
# present; --force rebuilds it.
# usage: hack/airgap/base-image.sh [--force]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

platform=linux/$(host_arch)
image=$STANDIN_BASE_IMAGE
reused "$image" "${1:-}" && exit 0
apt_install debootstrap
tree=$(mktemp -d /var/tmp/friendlyhello-rootfs.XXXXXX)
trap 'rm -rf "$tree"' EXIT
mirror=$(debian_mirror)
log "debootstrap $DEBIAN_SUITE ($platform) from the host's mirror"
debootstrap --variant=minbase "$DEBIAN_SUITE" "$tree" "$mirror" >"$tree.log" 2>&1 \
  || { tail -n 20 "$tree.log" >&2; exit 1; }
rm -f "$tree.log"
# Like the official slim images: no package lists or caches, apt over the same mirror.
rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin "$tree"/usr/share/doc/* "$tree"/usr/share/man/*
log "importing as $image"
context=$(mktemp -d)
trap 'rm -rf "$tree" "$context"' EXIT
tar -C "$tree" -c -f "$context/rootfs.tar" .
printf 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n' >"$context/Dockerfile"
docker_build --quiet --platform "$platform" --tag "$image" "$context" >/dev/null
log "done: $(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=si)B"
echo "$image"

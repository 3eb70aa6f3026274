#!/usr/bin/env bash
# Builds the stand-in for BASE_IMAGE where no registry answers: a minimal
# Debian (debootstrap --variant=minbase) of PLATFORM (default: this host's),
# imported as standin_base_image PLATFORM names it. Another platform's
# bootstrap runs under emulation (hack/host/binfmt.sh sets it up). Prints its
# reference. Reused when present; --force rebuilds it.
# usage: [PLATFORM=linux/arm64] hack/airgap/base-image.sh [--force]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

platform=${PLATFORM:-linux/$(host_arch)}
image=$(standin_base_image "$platform")
if [ "${1:-}" != "--force" ] && image_exists "$image"; then
  log "$image present"
  echo "$image"
  exit 0
fi
apt_install debootstrap
"$root/hack/host/binfmt.sh" "$platform"
tree=$(mktemp -d /var/tmp/friendlyhello-rootfs.XXXXXX)
trap 'rm -rf "$tree"' EXIT
mirror=$(debian_mirror)
log "debootstrap $DEBIAN_SUITE ($platform) from the host's mirror"
debootstrap --arch="${platform#linux/}" --variant=minbase "$DEBIAN_SUITE" "$tree" "$mirror" >"$tree.log" 2>&1 \
  || { tail -n 20 "$tree.log" >&2; exit 1; }
rm -f "$tree.log"
# Like the official slim images: no package lists or caches, apt over the same mirror.
rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin "$tree"/usr/share/doc/* "$tree"/usr/share/man/*
# Imported by a build rather than `docker import`, which records this host's
# platform whatever the files are.
log "importing as $image"
context=$(mktemp -d)
trap 'rm -rf "$tree" "$context"' EXIT
tar -C "$tree" -c -f "$context/rootfs.tar" .
printf 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n' >"$context/Dockerfile"
docker_build --quiet --platform "$platform" --tag "$image" "$context" >/dev/null
log "done: $(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=si)B"
echo "$image"

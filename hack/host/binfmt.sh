#!/usr/bin/env bash
# Lets this host run binaries of PLATFORM (e.g. linux/arm64) under emulation,
# as `make release` needs to build and test the arm64 image on an amd64 host:
# mounts binfmt_misc where it is not, installs Debian's qemu-user-static and
# checks the interpreter is registered with the F flag (opened at
# registration, so it works inside containers too). Says in one line what it
# changed. Nothing to do for the host's own platform.
# usage: hack/host/binfmt.sh PLATFORM
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[ $# -eq 1 ] || { echo "usage: hack/host/binfmt.sh PLATFORM" >&2; exit 2; }

arch=${1#linux/}
[ "$arch" != "$(host_arch)" ] || exit 0
case $arch in
  arm64) qemu=aarch64 ;;
  amd64) qemu=x86_64 ;;
  *) die "no emulation set up here for '$1' (linux/amd64 or linux/arm64)" ;;
esac
entry=/proc/sys/fs/binfmt_misc/qemu-$qemu
registered() { [ -f "$entry" ] && grep -qx enabled "$entry" && grep -q '^flags: .*F' "$entry"; }
registered && exit 0

if [ ! -f /proc/sys/fs/binfmt_misc/status ]; then
  as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
apt_install qemu-user-static binfmt-support
registered || as_root update-binfmts --enable "qemu-$qemu" >/dev/null 2>&1 || true
registered || die "qemu-$qemu is not registered with binfmt_misc (flags F): see $entry"
log "$1 binaries now run here under emulation: binfmt_misc mounted and qemu-$qemu registered (undo: update-binfmts --disable qemu-$qemu)"

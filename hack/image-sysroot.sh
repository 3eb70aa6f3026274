#!/usr/bin/env bash
# Runs in the Dockerfile's builder stage, which runs on the build host's own
# platform: installs what the builder itself runs (Python with pip, lddtree),
# then unpacks Debian's Python for the target architecture ARCH (this Debian
# release's packages and everything they depend on) into SYSROOT, a tree that
# nothing runs. The image is assembled from that tree and from ARCH's wheels,
# so building for another architecture than the host's needs no emulation.
# Also writes:
#   SYSROOT/var/lib/dpkg/status.d/PACKAGE  each package's control paragraph
#   SYSROOT/var/lib/dpkg/info/PACKAGE.list each package's files
#   SYSROOT/.pip.env  the pip settings that choose ARCH's wheels (sourced)
# usage: image-sysroot.sh ARCH SYSROOT
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: image-sysroot.sh ARCH SYSROOT" >&2; exit 2; }
arch=$1 sysroot=$2
die() { echo "image-sysroot: $*" >&2; exit 1; }
case $arch in
  amd64) machine=x86_64 ;;
  arm64) machine=aarch64 ;;
  *) die "no image for architecture '$arch' (amd64 or arm64)" ;;
esac

[ "$arch" = "$(dpkg --print-architecture)" ] || dpkg --add-architecture "$arch"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  python3 python3-venv ca-certificates pax-utils >/dev/null

# Resolved against an empty dpkg status, so the set is complete whatever the
# builder has installed, and nothing of it is installed here.
debs=$(mktemp -d)
: >"$debs/status"
apt-get -q -y --no-install-recommends -o Dir::State::status="$debs/status" \
  -o APT::Architecture="$arch" -o APT::Architectures::="$arch" -o Dir::Cache::archives="$debs" \
  install --download-only python3-minimal libpython3-stdlib >/dev/null
mkdir -p "$sysroot/var/lib/dpkg/status.d" "$sysroot/var/lib/dpkg/info"
for deb in "$debs"/*.deb; do
  package=$(dpkg-deb -f "$deb" Package)
  dpkg-deb -x "$deb" "$sysroot"
  # As dpkg's status has it (the Status line after Package), for SBOM tools.
  dpkg-deb -f "$deb" | sed '1a Status: install ok installed' >"$sysroot/var/lib/dpkg/status.d/$package"
  dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|; s|/$||' >"$sysroot/var/lib/dpkg/info/$package.list"
done
glibc=$(dpkg-deb -f "$debs"/libc6_*.deb Version)
rm -rf "$debs" /var/lib/apt/lists/*

# Debian's merged /usr, which base-files (not needed here) would make.
for link in bin lib lib64 sbin; do
  [ ! -e "$sysroot/$link" ] || die "a package ships /$link: the tree is not merged-/usr"
  ln -s "usr/$link" "$sysroot/$link"
done
# libc-bin's file, which lddtree reads to find the libraries.
printf 'include /etc/ld.so.conf.d/*.conf\n' >"$sysroot/etc/ld.so.conf"

# The builder compiles the target's Python files: the two must be one version.
version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ -x "$sysroot/usr/bin/python$version" ] \
  || die "the builder runs Python $version, the $arch packages have $(ls "$sysroot"/usr/bin/python3.*)"

# The wheels pip would choose on ARCH with this glibc: manylinux back to its
# oldest tag, the legacy names included.
glibc_minor=${glibc#2.}
glibc_minor=${glibc_minor%%[^0-9]*}
platforms="manylinux2014_$machine manylinux2010_$machine manylinux1_$machine"
for ((minor = glibc_minor; minor >= 5; minor--)); do platforms+=" manylinux_2_${minor}_$machine"; done
cat >"$sysroot/.pip.env" <<EOF
export PIP_PLATFORM="$platforms" PIP_PYTHON_VERSION=$version PIP_IMPLEMENTATION=cp PIP_ABI=cp${version/./} PIP_ONLY_BINARY=:all:
EOF

#!/usr/bin/env bash
# Runs inside the Dockerfile's builder stage: copies into DEST only what the
# service needs at run time (Python, its standard library, the virtualenv, the
# app and the shared libraries they load), so the runtime image can start
# from scratch with no shell, package manager or compiler. Python and its
# libraries come from SYSROOT (hack/image-sysroot.sh: the target's Debian
# packages, unpacked), the virtualenv and the app from the builder; nothing
# of the target's is run, so this works the same for any architecture.
# usage: hack/image-rootfs.sh SYSROOT DEST
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: image-rootfs.sh SYSROOT DEST" >&2; exit 2; }
sysroot=$1 dest=$2
die() { echo "image-rootfs: $*" >&2; exit 1; }
# The builder's Python is the target's version (image-sysroot.sh checked).
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
python=$(readlink -f "$sysroot/usr/bin/python3")
[[ $python == "$sysroot"/* ]] || die "$sysroot/usr/bin/python3 points out of the tree: $python"
python=${python#"$sysroot"}

# Debian's merged /usr layout, so paths the loader and Python expect resolve.
mkdir -p "$dest"/usr/bin "$dest"/usr/lib "$dest"/usr/lib64 "$dest"/etc "$dest"/tmp
for link in bin lib lib64; do ln -sfn "usr/$link" "$dest/$link"; done
chmod 1777 "$dest/tmp"

copy_real() { # PATH: SYSROOT's file at PATH under DEST, in its canonical directory; a link with its target
  local real_dir real
  real_dir=$(readlink -f "$sysroot$(dirname "$1")")
  real_dir=${real_dir#"$sysroot"}
  mkdir -p "$dest$real_dir"
  cp -P "$sysroot$1" "$dest$real_dir/"
  if [ -L "$sysroot$1" ]; then
    real=$(readlink -f "$sysroot$1")
    [[ $real == "$sysroot"/* ]] || die "$1 points out of $sysroot: $real"
    copy_real "${real#"$sysroot"}"
  fi
}

cp -a "$sysroot/usr/bin/python3" "$dest/usr/bin/"
copy_real "$python"
# The standard library without what a server never imports (and without the
# shared libraries those modules would pull in: curses, readline, dbm, sqlite, nis).
tar -C "$sysroot" -c \
  --exclude="${stdlib#/}/"{test,idlelib,tkinter,turtledemo,ensurepip,lib2to3,pydoc_data,unittest,venv} \
  --exclude="${stdlib#/}/"{distutils,sqlite3,dbm,curses} \
  --exclude="${stdlib#/}/lib-dynload/"{_dbm,_gdbm,_sqlite3,_curses,_curses_panel,readline,nis,_crypt}.* \
  --exclude="${stdlib#/}/lib-dynload/"{_test,_xxtest,xxlimited,_ctypes_test}* \
  "${stdlib#/}" | tar -C "$dest" -x
mkdir -p "$dest/opt"
cp -a /opt/venv "$dest/opt/"
# The installers came with the virtualenv; nothing imports them at run time.
# (Wheels installed for another platform leave their scripts in site-packages/bin.)
site_packages=$(echo "$dest"/opt/venv/lib/python3*/site-packages)
rm -rf "$dest/opt/venv/bin/"{activate*,Activate.ps1,pip*} "${site_packages:?}/bin" \
  "$site_packages"/{pip,setuptools,pkg_resources,_distutils_hack}* "$site_packages/distutils-precedence.pth"
cp -a /srv "$dest/"

# Every shared library that Python or a compiled module loads, with the
# loader: read from the ELF files (lddtree runs none of them), found in
# SYSROOT as the target's loader would find them.
{
  mapfile -t modules < <(cd "$dest" && find "${stdlib#/}/lib-dynload" -name '*.so' -printf '/%p\n')
  lddtree -R "$sysroot" -l "$python" "${modules[@]}"
  find "$dest/opt/venv" -type f -name '*.so*' -exec lddtree -R "$sysroot" --no-auto-root -l {} +
} | sort -u | while read -r library; do
  case $library in
    "$sysroot"/*) copy_real "${library#"$sysroot"}" ;;
    "$dest"/*) ;; # the module itself, or a library its wheel brought
    *) die "no $library in $sysroot, which ${python#/usr/bin/} or a module needs" ;;
  esac
done

# Debian's CA bundle (the Dockerfile points SSL_CERT_FILE at it), so TLS to a
# managed Redis with a public certificate needs no bundle of its own.
mkdir -p "$dest/etc/ssl/certs"
cp -L /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/"

# Which Debian release this is, for the SBOM's package URLs and for scanners
# matching the packages below to Debian's advisories.
cp -L /usr/lib/os-release "$dest/usr/lib/os-release"
ln -sfn ../usr/lib/os-release "$dest/etc/os-release"

# What each Debian package that has files here is, in the layout distroless
# images use (one status paragraph per package), so SBOM tools and scanners
# see the Debian packages of an image that has no dpkg.
mkdir -p "$dest/var/lib/dpkg/status.d"
for list in "$sysroot"/var/lib/dpkg/info/*.list; do
  package=$(basename "$list" .list)
  while read -r path; do
    # Programs and libraries only: the files under /etc here are the image's own.
    [[ $path == /usr/* || $path == /lib* ]] || continue
    if [ -f "$dest$path" ]; then
      cp "$sysroot/var/lib/dpkg/status.d/$package" "$dest/var/lib/dpkg/status.d/$package"
      break
    fi
  done <"$list"
done
# These two files are the builder's (the same Debian release): the bundle,
# generated from ca-certificates' files, and base-files' os-release.
dpkg-query -s ca-certificates >"$dest/var/lib/dpkg/status.d/ca-certificates"
dpkg-query -s base-files >"$dest/var/lib/dpkg/status.d/base-files"

# Bytecode for everything, compiled by the builder's Python (the same
# version) as it will be found in the image.
python3 -m compileall -q -s "$dest" -p / "$dest$stdlib" "$dest/opt/venv" "$dest/srv"

# The service runs as this fixed, non-root user (UID/GID 10001).
printf 'root:x:0:0:root:/root:/sbin/nologin\napp:x:10001:10001:friendlyhello:/nonexistent:/sbin/nologin\n' >"$dest/etc/passwd"
printf 'root:x:0:\napp:x:10001:\n' >"$dest/etc/group"
printf 'hosts: files dns\n' >"$dest/etc/nsswitch.conf"

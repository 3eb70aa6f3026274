#!/usr/bin/env bash
# Runs inside the Dockerfile's builder stage: copies into DEST only what the
# service needs at run time (Python, its standard library, the virtualenv, the
# app and the shared libraries they load), so the runtime image can start
# from scratch with no shell, package manager or compiler.
# usage: hack/image-rootfs.sh DEST
set -euo pipefail
dest=${1:?usage: image-rootfs.sh DEST}
python=$(readlink -f /usr/bin/python3)
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')

# Debian's merged /usr layout, so paths the loader and Python expect resolve.
mkdir -p "$dest"/usr/bin "$dest"/usr/lib "$dest"/usr/lib64 "$dest"/etc "$dest"/tmp
for link in bin lib lib64; do ln -sfn "usr/$link" "$dest/$link"; done
chmod 1777 "$dest/tmp"

copy_real() { # PATH: the file's content at its canonical place under DEST
  local real_dir
  real_dir=$(readlink -f "$(dirname "$1")")
  mkdir -p "$dest$real_dir"
  cp -L "$1" "$dest$real_dir/$(basename "$1")"
}

cp -a /usr/bin/python3 "$dest/usr/bin/"
copy_real "$python"
# The standard library without what a server never imports (and without the
# shared libraries those modules would pull in: curses, readline, dbm, sqlite, nis).
tar -C / -c --exclude='*.opt-*.pyc' \
  --exclude="${stdlib#/}/"{test,idlelib,tkinter,turtledemo,ensurepip,lib2to3,pydoc_data,unittest,venv} \
  --exclude="${stdlib#/}/"{distutils,sqlite3,dbm,curses} \
  --exclude="${stdlib#/}/lib-dynload/"{_dbm,_gdbm,_sqlite3,_curses,_curses_panel,readline,nis,_crypt}.* \
  --exclude="${stdlib#/}/lib-dynload/"{_test,_xxtest,xxlimited,_ctypes_test}* \
  "${stdlib#/}" | tar -C "$dest" -x
mkdir -p "$dest/opt"
cp -a /opt/venv "$dest/opt/"
# The installers came with the virtualenv; nothing imports them at run time.
site_packages=$(echo "$dest"/opt/venv/lib/python3*/site-packages)
rm -rf "$dest/opt/venv/bin/"{activate*,Activate.ps1,pip*} \
  "$site_packages"/{pip,setuptools,pkg_resources,_distutils_hack}* "$site_packages/distutils-precedence.pth"
cp -a /srv "$dest/"

# Every shared library that Python or a compiled module loads, with the loader.
find "$python" "$dest${stdlib}/lib-dynload" "$dest/opt/venv" -type f \( -name '*.so*' -o -perm -u+x \) \
  -exec sh -c 'ldd "$@" 2>/dev/null || true' ldd {} + \
  | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(0x/ {print $1}' | sort -u \
  | while read -r library; do copy_real "$library"; done

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
dpkg-query -W -f '${Package}\n' | while read -r package; do
  while read -r path; do
    # Programs and libraries only: the files under /etc here are the image's own.
    [[ $path == /usr/* || $path == /lib* ]] || continue
    if [ -f "$dest$path" ]; then
      dpkg-query -s "$package" >"$dest/var/lib/dpkg/status.d/$package"
      break
    fi
  done < <(dpkg-query -L "$package" 2>/dev/null)
done
# The bundle is generated from ca-certificates' files, not one of them.
dpkg-query -s ca-certificates >"$dest/var/lib/dpkg/status.d/ca-certificates"

# The service runs as this fixed, non-root user (UID/GID 10001).
printf 'root:x:0:0:root:/root:/sbin/nologin\napp:x:10001:10001:friendlyhello:/nonexistent:/sbin/nologin\n' >"$dest/etc/passwd"
printf 'root:x:0:\napp:x:10001:\n' >"$dest/etc/group"
printf 'hosts: files dns\n' >"$dest/etc/nsswitch.conf"

#!/usr/bin/env bash
# Builds a kind node image with no container registry, from Go modules
# (node-binaries.sh) and Debian packages, and prints its reference. It does what
# `kind build node-image` does, except that every image the node preloads is
# assembled here instead of pulled:
#   1. base: debootstrap of Debian with kind's base files (entrypoint, systemd
#      units, containerd config) taken from the kind module in Go's module cache;
#   2. component images under the exact names kubeadm and kind expect;
#   3. the node: Kubernetes binaries in /usr/bin, /kind/version, the manifests,
#      the images imported into the node's containerd, then `docker commit`.
# Cached by a hash of its recipe; --force rebuilds.
# usage: hack/airgap/node-image.sh [--force]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$root/hack/go-build.sh"

here="$root/hack/airgap"
node_versions=(KUBERNETES_VERSION KIND_VERSION CONTAINERD_VERSION RUNC_VERSION CNI_PLUGINS_VERSION
  CRICTL_VERSION ETCD_VERSION COREDNS_VERSION LOCAL_PATH_PROVISIONER_VERSION KUBE_ROUTER_VERSION NODE_DEBIAN_SUITE)
recipe=$( (for name in "${node_versions[@]}"; do echo "$name=${!name}"; done
  cat "$here"/node-image.sh "$here"/node-binaries.sh "$root/hack/go-build.sh" \
  "$here"/default-cni.yaml "$here"/pause/* "$here"/etcd/* "$here"/coredns/*) | sha256sum | cut -c1-12)
node_ref="$STANDIN_NODE_REPOSITORY:$KUBERNETES_VERSION-$recipe"
reused "$node_ref" "${1:-}" && exit 0

# What the build needs and cannot install by itself, checked before it starts
# a compile of half an hour rather than after.
[ "$(uname -s)" = Linux ] || die "building a kind node needs Linux, not $(uname -s): pull $KIND_NODE_IMAGE instead"
[ "$(id -u)" -eq 0 ] || die "building a kind node needs root (debootstrap, a privileged container)"
command -v go >/dev/null || die "building a kind node needs Go on PATH"
debian_mirror >/dev/null \
  || die "building a kind node needs a Debian mirror in this host's apt sources (debootstrap of Debian $NODE_DEBIAN_SUITE)"

apt_install jq # edits the node's runtime spec
work=$(mktemp -d /var/tmp/friendlyhello-node.XXXXXX)
build_container=""
cleanup() {
  [ -z "$build_container" ] || docker rm -f "$build_container" >/dev/null 2>&1 || true
  local job
  for job in $(jobs -p); do kill "$job" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# debootstrap SUITE DIR PACKAGES: a minimal Debian tree with PACKAGES.
debian_tree() {
  local log_file
  log_file="$work/debootstrap-$(basename "$2").log"
  apt_install debootstrap
  debootstrap --variant=minbase --include="$3" "$1" "$2" "$(debian_mirror)" >"$log_file" 2>&1 \
    || { tail -n 20 "$log_file" >&2; die "debootstrap of $2 failed (log kept: $log_file)"; }
  rm -rf "$2"/var/lib/apt/lists/* "$2"/var/cache/apt/*.bin "$2"/usr/share/doc/* "$2"/usr/share/man/*
}

# The two Debian trees download in the background while the binaries compile.
base_ref="$STANDIN_NODE_BASE_REPOSITORY:$recipe"
userland_ref="$STANDIN_USERLAND_REPOSITORY:$recipe"
if ! image_exists "$base_ref"; then
  log "base: debootstrap $NODE_DEBIAN_SUITE with systemd, iptables, nftables, ... (in the background)"
  debian_tree "$NODE_DEBIAN_SUITE" "$work/base" \
    systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,e2fsprogs,bash,ca-certificates,curl,jq,procps,socat &
  base_tree=$!
fi
if ! image_exists "$userland_ref"; then
  log "images: debootstrap of a userland for kube-proxy, kube-router (iptables, ipset) and the storage helper (in the background)"
  debian_tree "$NODE_DEBIAN_SUITE" "$work/userland" iptables,nftables,conntrack,ipset,iproute2,kmod &
  userland_tree=$!
fi

"$here/node-binaries.sh" >&2
bin="$NODE_CACHE/bin"
pause_version=$(cat "$here/pause/main.go" "$here/pause/go.mod" | sha256sum | cut -c1-12)
kind_dir=$(module_dir "sigs.k8s.io/kind@$KIND_VERSION")
kind_files="$kind_dir/images/base/files"

# --- 1. the node's base ------------------------------------------------------
if [ -n "${base_tree:-}" ]; then
  wait "$base_tree" || die "the base's debootstrap failed"
  tree="$work/base"
  log "base: kind $KIND_VERSION base files, containerd $CONTAINERD_VERSION, runc $RUNC_VERSION, crictl, CNI plugins"
  install -D -m 0755 -t "$tree/usr/local/bin" "$kind_files"/usr/local/bin/*
  mkdir -p "$tree/kind/bin" "$tree/etc/containerd" "$tree/etc/default" "$tree/etc/sysctl.d" \
    "$tree/etc/systemd/system/kubelet.service.d" "$tree/etc/kubernetes/manifests" "$tree/opt/cni/bin" \
    "$tree/etc/cni/net.d" "$tree/kind/manifests"
  install -m 0755 -t "$tree/kind/bin" "$kind_files"/kind/bin/*
  install -m 0644 "$kind_files/etc/crictl.yaml" "$tree/etc/"
  install -m 0644 -t "$tree/etc/containerd" "$kind_files"/etc/containerd/*
  install -m 0644 -t "$tree/etc/default" "$kind_files"/etc/default/*
  install -m 0644 -t "$tree/etc/sysctl.d" "$kind_files"/etc/sysctl.d/*
  find "$kind_files/etc/systemd/system" -maxdepth 1 -type f -exec install -m 0644 -t "$tree/etc/systemd/system" {} +
  install -m 0644 -t "$tree/etc/systemd/system/kubelet.service.d" "$kind_files"/etc/systemd/system/kubelet.service.d/*
  # As kind's base image does: only the units a node needs start at boot.
  find "$tree/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
  rm -f "$tree"/lib/systemd/system/multi-user.target.wants/* "$tree"/etc/systemd/system/*.wants/* \
    "$tree"/lib/systemd/system/local-fs.target.wants/* "$tree"/lib/systemd/system/sockets.target.wants/*udev* \
    "$tree"/lib/systemd/system/sockets.target.wants/*initctl* "$tree"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$tree/etc/systemd/journald.conf"
  ln -sf /usr/lib/systemd/systemd "$tree/sbin/init"
  systemctl --root="$tree" enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
  systemctl --root="$tree" mask systemd-binfmt.service >/dev/null 2>&1
  install -m 0755 -t "$tree/usr/local/bin" "$bin/containerd-$CONTAINERD_VERSION"/{containerd,ctr,containerd-shim-runc-v2} \
    "$bin/crictl-$CRICTL_VERSION/crictl"
  install -D -m 0755 "$bin/runc-$RUNC_VERSION/runc" "$tree/usr/local/sbin/runc"
  install -m 0755 -t "$tree/opt/cni/bin" "$bin/cni-plugins-$CNI_PLUGINS_VERSION"/*
  # The runtime spec containerd starts from, as kind generates it.
  "$bin/containerd-$CONTAINERD_VERSION/ctr" oci spec \
    | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
    | jq 'del(.process.rlimits)' >"$tree/etc/containerd/cri-base.json"
  log "base: importing as $base_ref"
  tar -C "$tree" -c . | docker import - "$base_ref-rootfs" >/dev/null
  # docker import cannot set a stop signal; systemd as PID 1 stops on SIGRTMIN+3.
  printf 'FROM %s\nENV container=docker\nSTOPSIGNAL SIGRTMIN+3\nENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]\n' \
    "$base_ref-rootfs" | docker_build -q -t "$base_ref" - >/dev/null
  docker rmi "$base_ref-rootfs" >/dev/null
  rm -rf "$tree"
fi

# --- 2. the images the node preloads ----------------------------------------
if [ -n "${userland_tree:-}" ]; then
  wait "$userland_tree" || die "the userland's debootstrap failed"
  log "images: importing the userland as $userland_ref"
  tar -C "$work/userland" -c . | docker import - "$userland_ref" >/dev/null
  rm -rf "$work/userland"
fi

# image NAME ENTRYPOINT FILE...: a one-binary image (files land in /usr/local/bin).
binary_image() {
  local name=$1 entrypoint=$2 tree="$work/image"
  shift 2
  rm -rf "$tree"; mkdir -p "$tree/usr/local/bin" "$tree/tmp" "$tree/etc"
  install -m 0755 -t "$tree/usr/local/bin" "$@"
  echo "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin" >"$tree/etc/passwd"
  local changes=(--change 'ENV PATH=/usr/local/bin:/usr/bin:/bin')
  [ -z "$entrypoint" ] || changes+=(--change "ENTRYPOINT [\"$entrypoint\"]")
  tar -C "$tree" -c . | docker import "${changes[@]}" - "$name" >/dev/null
}

userland_image() { # NAME [FILE...]: the userland, plus files in /usr/local/bin
  local name=$1
  shift
  if [ "$#" -eq 0 ]; then docker tag "$userland_ref" "$name"; return; fi
  mkdir -p "$work/ctx"; cp "$@" "$work/ctx/"
  printf "FROM %s\nCOPY . /usr/local/bin/\n" "$userland_ref" | docker_build -q -t "$name" -f - "$work/ctx" >/dev/null
  rm -rf "$work/ctx"
}

k8s_bin="$bin/kubernetes-$KUBERNETES_VERSION"
mapfile -t kubeadm_images < <("$k8s_bin/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION")
sandbox_image=$(sed -nE 's/^\s*sandbox_image = "(.*)"/\1/p' "$kind_files/etc/containerd/config.toml")
storage_go="$kind_dir/pkg/build/nodeimage/const_storage.go"
mapfile -t storage_images < <(sed -nE 's/^const storage(Provisioner|Helper)Image = "(.*)"/\2/p' "$storage_go")
# The pod network (default-cni.yaml): kube-router, which routes between nodes
# and enforces NetworkPolicy with iptables and ipset.
network_image=$(sed -nE 's/^\s*image: (.*kube-router.*)$/\1/p' "$here/default-cni.yaml" | sort -u)
[ "$network_image" = "$STANDIN_KUBE_ROUTER_REPOSITORY:$KUBE_ROUTER_VERSION" ] \
  || die "default-cni.yaml runs '$network_image', not $STANDIN_KUBE_ROUTER_REPOSITORY:$KUBE_ROUTER_VERSION"
required=("${kubeadm_images[@]}" "$sandbox_image" "${storage_images[@]}" "$network_image")
log "images: ${#required[@]} to assemble: ${required[*]}"
for image in "${required[@]}"; do
  repository=${image%:*}
  case "${repository##*/}" in
    kube-apiserver|kube-controller-manager|kube-scheduler)
      binary_image "$image" "" "$k8s_bin/${repository##*/}" ;;
    kube-proxy) userland_image "$image" "$k8s_bin/kube-proxy" ;;
    etcd) binary_image "$image" "" "$bin/etcd-$ETCD_VERSION/etcd" ;;
    coredns) binary_image "$image" /usr/local/bin/coredns "$bin/coredns-$COREDNS_VERSION/coredns" ;;
    pause) binary_image "$image" /usr/local/bin/pause "$bin/pause-$pause_version/pause" ;;
    local-path-provisioner)
      binary_image "$image" "" "$bin/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION/local-path-provisioner" ;;
    local-path-helper) userland_image "$image" ;;
    kube-router) userland_image "$image" "$bin/kube-router-$KUBE_ROUTER_VERSION/kube-router" ;;
    *) die "no recipe for image $image" ;;
  esac
done
docker save "${required[@]}" -o "$work/images.tar"
# They live on in the node image; upstream names stay out of the host's list.
docker rmi "${required[@]}" >/dev/null

# --- 3. the node -------------------------------------------------------------
log "node: assembling in a build container"
build_container=$(docker run -d --privileged --entrypoint=sleep "$base_ref" infinity)
in_node() { docker exec "$build_container" "$@"; }
for binary in kubeadm kubelet kubectl; do docker cp "$k8s_bin/$binary" "$build_container:/usr/bin/$binary"; done
echo "$KUBERNETES_VERSION" | docker exec -i "$build_container" sh -c 'cat > /kind/version'
# kind keeps this manifest as a Go constant that splices in the image names.
sed -n '/^const defaultStorageManifest = `/,/^`/p' "$storage_go" | sed '1d;$d' \
  | sed -e "s#\` + storageProvisionerImage + \`#${storage_images[0]}#" \
        -e "s#\` + storageHelperImage + \`#${storage_images[1]}#" \
  | docker exec -i "$build_container" sh -c 'cat > /kind/manifests/default-storage.yaml'
docker cp "$here/default-cni.yaml" "$build_container:/kind/manifests/default-cni.yaml"
docker cp "$work/images.tar" "$build_container:/kind/images.tar"
log "node: importing ${#required[@]} images into the node's containerd"
in_node sh -c 'containerd >/var/log/containerd-build.log 2>&1 &'
for _ in $(seq 1 50); do in_node ctr version >/dev/null 2>&1 && break; sleep 0.2; done
in_node ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned \
  --all-platforms --no-unpack --digests /kind/images.tar >/dev/null
in_node rm -f /kind/images.tar
in_node sh -c 'kill $(pidof containerd); while pidof containerd >/dev/null; do sleep 0.2; done'
docker commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
  "$build_container" "$node_ref" >/dev/null
log "node: built $node_ref ($(docker image inspect -f '{{.Size}}' "$node_ref" | numfmt --to=si)B)"
echo "$node_ref"

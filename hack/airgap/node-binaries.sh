#!/usr/bin/env bash
# Builds, from Go modules, every binary the local kind node image needs:
# Kubernetes (kubeadm, kubelet, kubectl, control plane, kube-proxy), containerd,
# runc (with seccomp), CNI plugins, crictl, etcd, CoreDNS, the local-path
# provisioner, kube-router (the pod network) and this repo's pause. Each lands
# in $NODE_CACHE/bin/<name>-<version>/ and is reused when present; Go's build
# cache makes rebuilds quick.
# usage: hack/airgap/node-binaries.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$root/hack/go-build.sh"

out="$NODE_CACHE/bin"
src="$NODE_CACHE/src"
mkdir -p "$out" "$src"

# stage NAME VERSION [RECIPE]: true when NAME-VERSION still has to be built
# (RECIPE: a hash of this repo's sources that go into it, if any).
stage() {
  [ -f "$out/$1-$2/.done" ] && [ "$(cat "$out/$1-$2/.done")" = "${3:-}" ] && { log "$1 $2 present"; return 1; }
  rm -rf "$out/$1-$2"; mkdir -p "$out/$1-$2"
  stage_started=$SECONDS
  log "$1 $2: building (log: $out/$1-$2.log)"
}
finish() { echo -n "${3:-}" >"$out/$1-$2/.done"; log "$1 $2 built ($((SECONDS - stage_started)) s)"; }
fail() { tail -n 25 "$out/$1-$2.log" >&2; die "$1 $2 failed to build (log: $out/$1-$2.log)"; }
# Kubernetes' commands into the stage NAME (hack/go-build.sh).
build_kubernetes_stage() { # NAME COMMAND...
  local name=$1
  shift
  build_kubernetes "$src/kubernetes-$KUBERNETES_VERSION" "$out/$name-$KUBERNETES_VERSION" "$@" \
    >"$out/$name-$KUBERNETES_VERSION.log" 2>&1 || fail "$name" "$KUBERNETES_VERSION"
  finish "$name" "$KUBERNETES_VERSION"
}

if stage kubernetes "$KUBERNETES_VERSION"; then
  build_kubernetes_stage kubernetes kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler \
    kube-proxy
fi

build_in_module() { # NAME VERSION MODULE ENV... -- GO BUILD ARGS...
  local name=$1 version=$2 module=$3 dir env=()
  shift 3
  while [ "$1" != "--" ]; do env+=("$1"); shift; done
  shift
  dir=$(module_dir "$module@$version")
  # -mod=readonly: a module zip may carry a partial vendor/ that must not be used.
  (cd "$dir" && env "${env[@]}" go build -mod=readonly "${go_build_flags[@]}" -o "$out/$name-$version/" "$@") \
    >"$out/$name-$version.log" 2>&1 || fail "$name" "$version"
}

if stage containerd "$CONTAINERD_VERSION"; then
  build_in_module containerd "$CONTAINERD_VERSION" github.com/containerd/containerd/v2 CGO_ENABLED=0 -- \
    -tags "no_aufs no_zfs no_btrfs no_devmapper" \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    ./cmd/containerd ./cmd/ctr ./cmd/containerd-shim-runc-v2
  finish containerd "$CONTAINERD_VERSION"
fi

if stage runc "$RUNC_VERSION"; then
  apt_install libseccomp-dev # runc links libseccomp statically
  build_in_module runc "$RUNC_VERSION" github.com/opencontainers/runc CGO_ENABLED=1 -- \
    -tags "seccomp urfave_cli_no_docs" \
    -ldflags "-s -w -X main.version=${RUNC_VERSION#v} -extldflags -static" .
  finish runc "$RUNC_VERSION"
fi

if stage cni-plugins "$CNI_PLUGINS_VERSION"; then
  build_in_module cni-plugins "$CNI_PLUGINS_VERSION" github.com/containernetworking/plugins CGO_ENABLED=0 -- \
    -ldflags "-s -w" ./plugins/main/ptp ./plugins/main/bridge ./plugins/main/loopback \
    ./plugins/ipam/host-local ./plugins/meta/portmap
  finish cni-plugins "$CNI_PLUGINS_VERSION"
fi

if stage crictl "$CRICTL_VERSION"; then
  build_in_module crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools CGO_ENABLED=0 -- \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" ./cmd/crictl
  finish crictl "$CRICTL_VERSION"
fi

if stage kube-router "$KUBE_ROUTER_VERSION"; then
  build_in_module kube-router "$KUBE_ROUTER_VERSION" github.com/cloudnativelabs/kube-router/v2 CGO_ENABLED=0 -- \
    -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
    ./cmd/kube-router
  finish kube-router "$KUBE_ROUTER_VERSION"
fi

if stage local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION"; then
  build_in_module local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" \
    github.com/rancher/local-path-provisioner CGO_ENABLED=0 -- \
    -ldflags "-s -w -X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" .
  finish local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION"
fi

# Wrapper modules: a main of this repo's around a module's library.
wrapper_main() { echo "$root/hack/airgap/$1/main.go"; }
wrapper_recipe() { sha256sum "$(wrapper_main "$1")" | cut -c1-12; }
build_wrapper() { # NAME VERSION MODULE STAGING_VERSION
  local name=$1 version=$2 module=$3 staging=$4
  wrapper_module "$src/$name-$version" "$module" "$version" "$staging"
  cp "$(wrapper_main "$name")" "$src/$name-$version/"
  (cd "$src/$name-$version" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build "${go_build_flags[@]}" -ldflags "-s -w" \
      -o "$out/$name-$version/$name" .) >"$out/$name-$version.log" 2>&1 || fail "$name" "$version"
  finish "$name" "$version" "$(wrapper_recipe "$name")"
}

# etcd's own main package lives in a module with local replaces.
if stage etcd "$ETCD_VERSION" "$(wrapper_recipe etcd)"; then
  build_wrapper etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
fi

# CoreDNS with the plugins kubeadm's Corefile uses (see coredns/main.go).
if stage coredns "$COREDNS_VERSION" "$(wrapper_recipe coredns)"; then
  build_wrapper coredns "$COREDNS_VERSION" github.com/coredns/coredns "$COREDNS_VERSION"
fi

pause_version=$(cat "$root/hack/airgap/pause/main.go" "$root/hack/airgap/pause/go.mod" | sha256sum | cut -c1-12)
if stage pause "$pause_version"; then
  (cd "$root/hack/airgap/pause" && CGO_ENABLED=0 go build "${go_build_flags[@]}" -ldflags "-s -w" \
      -o "$out/pause-$pause_version/pause" .) >"$out/pause-$pause_version.log" 2>&1 || fail pause "$pause_version"
  finish pause "$pause_version"
fi
log "all node binaries present in $out"

#!/usr/bin/env bash
# Creates or reuses the project's kind cluster ($CLUSTER_NAME), or deletes it.
# The nodes run the kind node image (image_for node: KIND_NODE_IMAGE, or a
# local stand-in where no registry answers) and are those of
# k8s/kind-cluster.yaml, or of the file KIND_CLUSTER_CONFIG names, with what
# this host needs (hack/host/kind_config.py). The kubeconfig context is
# kind-$CLUSTER_NAME in the default kubeconfig.
# `create` leaves a new cluster's nodes becoming ready (make up's `helm
# --wait` waits for what its pods need); `up` waits until they and CoreDNS are.
# Needs kind, kubectl, a Docker engine and .venv (make cluster provides them).
# usage: hack/cluster.sh up|create|delete
set -euo pipefail
source "$(dirname "$0")/lib.sh"
context="kind-$CLUSTER_NAME"

exists() { kind get clusters 2>/dev/null | grep -x "$CLUSTER_NAME" >/dev/null; }

wait_ready() {
  log "waiting for the node and CoreDNS"
  kubectl --context "$context" wait --for=condition=Ready node --all --timeout=180s >/dev/null || return 1
  kubectl --context "$context" -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null \
    || return 1
  log "cluster $CLUSTER_NAME ready (context $context)"
}

create() {
  local image
  image=$(image_for node)
  if exists; then
    # A cluster survives only while its nodes run (a restarted Docker engine
    # leaves them stopped), on the node image wanted now, with the nodes that
    # k8s/kind-cluster.yaml lists.
    local wanted_nodes running_nodes
    wanted_nodes=$(grep -cE '^[[:space:]]*- role:' "${KIND_CLUSTER_CONFIG:-$root/k8s/kind-cluster.yaml}")
    running_nodes=$(kind get nodes --name "$CLUSTER_NAME" | xargs -r docker inspect -f '{{.State.Running}} {{.Config.Image}}' 2>/dev/null \
      | grep -cxF "true $image" || true)
    if [ "$running_nodes" = "$wanted_nodes" ]; then
      log "cluster $CLUSTER_NAME exists: reusing it"
      kind export kubeconfig --name "$CLUSTER_NAME" >/dev/null 2>&1
      if wait_ready; then return; fi
      log "cluster $CLUSTER_NAME does not become ready: recreating it"
    else
      log "cluster $CLUSTER_NAME is stopped, on another node image or has other nodes: recreating it"
    fi
    kind delete cluster --name "$CLUSTER_NAME" >&2
  fi
  local config host_dir="$CACHE_DIR/kind-host"
  config=$(mktemp)
  "$root/.venv/bin/python" "$root/hack/host/kind_config.py" "$host_dir" "$image" >"$config"
  log "creating cluster $CLUSTER_NAME on $image"
  kind create cluster --name "$CLUSTER_NAME" --image "$image" --config "$config" --wait 0s >&2 \
    || { rm -f "$config"; die "kind create cluster failed (kind export logs shows the node's logs)"; }
  rm -f "$config"
  created=1
}

created=0
case "${1:-}" in
  up) create; [ "$created" = 0 ] || wait_ready || die "cluster $CLUSTER_NAME did not become ready" ;;
  create) create ;;
  delete) if exists; then kind delete cluster --name "$CLUSTER_NAME" >&2; else log "no cluster $CLUSTER_NAME"; fi ;;
  *) echo "usage: hack/cluster.sh up|create|delete" >&2; exit 2 ;;
esac

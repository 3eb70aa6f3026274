#!/usr/bin/env bash
# The kind cluster's own registry, the way kind documents a local registry:
# a registry container ($LOCAL_REGISTRY_NAME, image_for registry: the public
# image, or a stand-in where no registry answers) published on this host as
# localhost:$LOCAL_REGISTRY_PORT and joined to the kind network; every node's
# containerd told (a hosts.toml under /etc/containerd/certs.d) that
# localhost:$LOCAL_REGISTRY_PORT is that container; and the
# local-registry-hosting ConfigMap (KEP-1755) in kube-public, which tools read
# to find it. Images pushed to localhost:$LOCAL_REGISTRY_PORT from here are
# pulled by the nodes under the same name. `delete` removes the container, its
# storage and the ConfigMap.
# Needs the cluster (make cluster).
# usage: hack/registry.sh up|delete
set -euo pipefail
source "$(dirname "$0")/lib.sh"
context="kind-$CLUSTER_NAME"
name=$LOCAL_REGISTRY_NAME
address="localhost:$LOCAL_REGISTRY_PORT"

running_image() { docker inspect -f '{{if .State.Running}}{{.Config.Image}}{{end}}' "$name" 2>/dev/null || true; }

up() {
  local image node
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME" || die "no kind cluster $CLUSTER_NAME (make cluster)"
  image=$(image_for registry)
  if [ "$(running_image)" = "$image" ]; then
    log "$name runs $image: reusing it"
  else
    docker rm -f "$name" >/dev/null 2>&1 || true
    log "starting $name ($image) on 127.0.0.1:$LOCAL_REGISTRY_PORT"
    docker run --detach --restart=always --name "$name" --publish "127.0.0.1:$LOCAL_REGISTRY_PORT:5000" \
      --volume "$name:/var/lib/registry" "$image" >/dev/null
  fi
  if [ "$(docker inspect -f '{{index .NetworkSettings.Networks "kind"}}' "$name")" = "<nil>" ]; then
    docker network connect kind "$name"
  fi
  for node in $(kind get nodes --name "$CLUSTER_NAME"); do
    docker exec "$node" mkdir -p "/etc/containerd/certs.d/$address"
    printf '[host."http://%s:5000"]\n' "$name" \
      | docker exec -i "$node" cp /dev/stdin "/etc/containerd/certs.d/$address/hosts.toml"
  done
  kubectl --context "$context" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "$address"
    hostFromContainerRuntime: "$address"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
YAML
  wait_until_answers
  log "registry $address ready for this host and cluster $CLUSTER_NAME's nodes"
}

wait_until_answers() {
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://$address/v2/" 2>/dev/null && return 0
    sleep 0.2
  done
  die "the registry at $address does not answer (docker logs $name)"
}

case "${1:-}" in
  up) up ;;
  delete)
    docker rm -f "$name" >/dev/null 2>&1 && log "removed $name" || log "no $name"
    docker volume rm "$name" >/dev/null 2>&1 || true
    kubectl --context "$context" -n kube-public delete configmap local-registry-hosting --ignore-not-found \
      >/dev/null 2>&1 || true ;;
  *) echo "usage: hack/registry.sh up|delete" >&2; exit 2 ;;
esac

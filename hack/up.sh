#!/usr/bin/env bash
# `make up`: the kind cluster, the image, the chart, and the URL to browse.
# The image builds (tagged by content, so an unchanged app is not rebuilt and
# a changed one rolls only the web pods) and Redis is pulled while the cluster
# is created or reused: none needs the others. Each image goes into the nodes
# as soon as both it and they are there, while the nodes become ready; then
# `helm upgrade --install --wait` waits for what its pods need.
# usage: hack/up.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
context="kind-$CLUSTER_NAME"

image_out=$(mktemp)
redis_out=$(mktemp)
trap 'rm -f "$image_out" "$redis_out"' EXIT
"$root/hack/image.sh" >"$image_out" &
image_job=$!
image_for redis >"$redis_out" &
redis_job=$!
# On a failed cluster the build still finishes, cached for the next try.
"$root/hack/cluster.sh" create || { wait || true; exit 1; }
wait "$redis_job" || die "Redis's image could not be had (above)"
redis_by_tag "$(<"$redis_out")"
load_into_cluster "$(<"$redis_out")" &
load_job=$!
wait "$image_job" || die "the web image could not be built (above)"
load_into_cluster "$(<"$image_out")"
wait "$load_job" || die "Redis's image could not be loaded into cluster $CLUSTER_NAME (above)"
images=$(chart_image_values "$(<"$image_out")" "$(<"$redis_out")")
values=()
for value in $images; do values+=(--set "$value"); done

# The namespace enforces the restricted Pod Security profile the chart meets.
kubectl --context "$context" create namespace "$RELEASE_NAMESPACE" --dry-run=client -o yaml \
  | kubectl --context "$context" apply -f - >/dev/null
kubectl --context "$context" label namespace "$RELEASE_NAMESPACE" --overwrite \
  pod-security.kubernetes.io/enforce=restricted >/dev/null
log "helm upgrade --install $RELEASE_NAME (namespace $RELEASE_NAMESPACE, Pod Security: restricted)"
helm upgrade --install "$RELEASE_NAME" "$root/chart" --kube-context "$context" \
  --namespace "$RELEASE_NAMESPACE" \
  "${values[@]}" \
  --wait --timeout 5m >/dev/null
kubectl --context "$context" -n "$RELEASE_NAMESPACE" rollout status "deployment/$RELEASE_NAME" --timeout=2m >/dev/null
kubectl --context "$context" -n "$RELEASE_NAMESPACE" rollout status "statefulset/$RELEASE_NAME-redis" --timeout=2m >/dev/null
log "deployed ${values[*]}"
cat >&2 <<TEXT

  friendlyhello is running. Browse it with

    make browse        (kubectl port-forward to http://localhost:$BROWSE_PORT)

TEXT

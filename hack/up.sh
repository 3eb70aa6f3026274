#!/usr/bin/env bash
# `make up`: the kind cluster, the image, the chart, and the URL to browse.
# Creates or reuses the cluster while it builds the image (tagged by content,
# so an unchanged app is not rebuilt and a changed one rolls only the web
# pods) and resolves Redis: neither needs the other. Then loads both into the
# cluster and runs `helm upgrade --install --wait`.
# usage: hack/up.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
context="kind-$CLUSTER_NAME"

"$root/hack/image.sh" >/dev/null && image_for redis >/dev/null &
images_job=$!
# On a failed cluster the build still finishes, cached for the next try.
"$root/hack/cluster.sh" up || { wait "$images_job" || true; exit 1; }
wait "$images_job" || die "the images for the cluster could not be made (above)"
# Both present now: this only loads them and prints their values.
images=$("$root/hack/cluster-images.sh")
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

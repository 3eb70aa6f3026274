#!/usr/bin/env bash
# Renders the chart with its default values into k8s/ for people without Helm.
# The Redis password is not rendered (a Secret in git would publish it): the
# manifests read it from the Secret named in k8s/README.md, created once.
# usage: hack/manifests.sh [--check]    (--check: exit 1 when k8s/ is out of date)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

render() {
  helm template "$RELEASE_NAME" "$root/chart" --skip-tests --namespace "$RELEASE_NAMESPACE" \
    --set redis.auth.existingSecret="$RELEASE_NAME-redis-auth"
}

generated() {
  echo "# Generated from chart/ by hack/manifests.sh (make manifests); do not edit."
  render
}

target="$root/k8s/friendlyhello.yaml"
if [ "${1:-}" = "--check" ]; then
  diff -u "$target" <(generated) >&2 || die "k8s/ is out of date with the chart: run make manifests"
  exit 0
fi
generated >"$target.new"
mv "$target.new" "$target"
log "wrote ${target#"$root/"}"

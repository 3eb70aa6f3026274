#!/usr/bin/env bash
# Renders the chart with its default values into k8s/ for people without Helm:
# friendlyhello.yaml, the workloads, and prometheus-rules.yaml, the chart's
# alert rules as a plain Prometheus rules file (what its PrometheusRule holds).
# The Redis password is not rendered (a Secret in git would publish it): the
# manifests read it from the Secret named in k8s/README.md, created once.
# usage: hack/manifests.sh [--check]    (--check: exit 1 when k8s/ is out of date)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

header="# Generated from chart/ by hack/manifests.sh (make manifests); do not edit."

workloads() {
  echo "$header"
  helm template "$RELEASE_NAME" "$root/chart" --skip-tests --namespace "$RELEASE_NAMESPACE" \
    --set redis.auth.existingSecret="$RELEASE_NAME-redis-auth"
}

rules() {
  echo "$header"
  helm template "$RELEASE_NAME" "$root/chart" --namespace "$RELEASE_NAMESPACE" \
    --api-versions monitoring.coreos.com/v1/PrometheusRule --set metrics.prometheusRule.enabled=true --set metrics.serviceMonitor.enabled=true \
    --show-only templates/prometheusrule.yaml \
    | "$root/.venv/bin/python" -c 'import sys, yaml
print(yaml.safe_dump(yaml.safe_load(sys.stdin)["spec"], sort_keys=False, width=1000), end="")'
}

status=0
for name in workloads rules; do
  case $name in
    workloads) target="$root/k8s/friendlyhello.yaml" ;;
    rules) target="$root/k8s/prometheus-rules.yaml" ;;
  esac
  if [ "${1:-}" = "--check" ]; then
    diff -u "$target" <("$name") >&2 || { log "${target#"$root/"} is out of date with the chart: run make manifests"; status=1; }
  else
    "$name" >"$target.new"
    mv "$target.new" "$target"
    log "wrote ${target#"$root/"}"
  fi
done
exit "$status"

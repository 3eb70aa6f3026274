#!/usr/bin/env bash
# The Prometheus Operator and one Prometheus on the kind cluster, in the
# namespace $MONITORING_NAMESPACE: the operator's CRDs (the files its release
# ships, taken from its Go module), the operator, and a Prometheus that
# scrapes every ServiceMonitor and loads every PrometheusRule labelled
# $MONITORING_SELECTOR in any namespace, evaluating its rules every 5 s. The
# images come from image_for (the public ones, or stand-ins where no registry
# answers), loaded into the nodes. Prints the Prometheus Service
# (namespace/name) when it is ready. `delete` removes all of it.
# Needs the cluster (make cluster).
# usage: hack/monitoring.sh up|delete
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$root/hack/go-build.sh"
context="kind-$CLUSTER_NAME"
namespace=$MONITORING_NAMESPACE
selector_key=${MONITORING_SELECTOR%%=*}
selector_value=${MONITORING_SELECTOR#*=}

k() { kubectl --context "$context" "$@"; }

crds() {
  local dir
  dir=$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
  echo "$dir/example/prometheus-operator-crd"
}

up() {
  local operator reloader prometheus
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME" || die "no kind cluster $CLUSTER_NAME (make cluster)"
  operator=$(image_for prometheus-operator)
  reloader=$(image_for prometheus-config-reloader)
  prometheus=$(image_for prometheus)
  load_into_cluster "$operator" "$reloader" "$prometheus"
  log "the operator's CRDs ($PROMETHEUS_OPERATOR_VERSION)"
  # Server-side: the largest CRDs pass the size limit of client-side apply's annotation.
  k apply --server-side --force-conflicts -f "$(crds)" >/dev/null
  k wait --for=condition=Established --timeout=60s -f "$(crds)" >/dev/null
  log "the operator and a Prometheus in namespace $namespace (selecting $MONITORING_SELECTOR)"
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: prometheus-operator
  namespace: $namespace
---
# What the operator manages: its resources, the StatefulSets, Services,
# Secrets and ConfigMaps it writes for each Prometheus.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: friendlyhello-prometheus-operator
rules:
  - apiGroups: [monitoring.coreos.com]
    resources: ["*"]
    verbs: ["*"]
  - apiGroups: [apps]
    resources: [statefulsets]
    verbs: ["*"]
  - apiGroups: [""]
    resources: [configmaps, secrets]
    verbs: ["*"]
  - apiGroups: [""]
    resources: [pods]
    verbs: [list, delete]
  - apiGroups: [""]
    resources: [services, services/finalizers, endpoints]
    verbs: [get, create, update, delete]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch, create, update, delete]
  - apiGroups: [""]
    resources: [nodes]
    verbs: [list, watch]
  - apiGroups: [""]
    resources: [namespaces]
    verbs: [get, list, watch]
  - apiGroups: ["", events.k8s.io]
    resources: [events]
    verbs: [create, patch]
  - apiGroups: [networking.k8s.io]
    resources: [ingresses]
    verbs: [get, list, watch]
  - apiGroups: [storage.k8s.io]
    resources: [storageclasses]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: friendlyhello-prometheus-operator
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: friendlyhello-prometheus-operator
subjects:
  - kind: ServiceAccount
    name: prometheus-operator
    namespace: $namespace
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: prometheus-operator
  namespace: $namespace
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: prometheus-operator}
  template:
    metadata:
      labels: {app.kubernetes.io/name: prometheus-operator}
    spec:
      serviceAccountName: prometheus-operator
      securityContext:
        runAsNonRoot: true
        runAsUser: 65534
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: operator
          image: $operator
          imagePullPolicy: IfNotPresent
          args: [--prometheus-config-reloader=$reloader]
          ports:
            - {name: http, containerPort: 8080}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {memory: 256Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: prometheus
  namespace: $namespace
---
# What Prometheus reads to find the ServiceMonitors' targets, in every namespace.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: friendlyhello-prometheus
rules:
  - apiGroups: [""]
    resources: [services, endpoints, pods]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: friendlyhello-prometheus
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: friendlyhello-prometheus
subjects:
  - kind: ServiceAccount
    name: prometheus
    namespace: $namespace
YAML
  k -n "$namespace" rollout status deployment/prometheus-operator --timeout=180s >/dev/null \
    || die "the Prometheus Operator did not start (kubectl -n $namespace logs deployment/prometheus-operator)"
  # The operator's webhook-free CRDs accept a Prometheus at once; the operator
  # then writes its StatefulSet (prometheus-NAME) and the Service
  # prometheus-operated.
  k apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: friendlyhello
  namespace: $namespace
spec:
  image: $prometheus
  version: $PROMETHEUS_VERSION
  replicas: 1
  serviceAccountName: prometheus
  scrapeInterval: 5s
  evaluationInterval: 5s
  serviceMonitorSelector:
    matchLabels: {$selector_key: $selector_value}
  serviceMonitorNamespaceSelector: {}
  ruleSelector:
    matchLabels: {$selector_key: $selector_value}
  ruleNamespaceSelector: {}
  resources:
    requests: {cpu: 100m, memory: 128Mi}
    limits: {memory: 512Mi}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65534
    fsGroup: 65534
    seccompProfile: {type: RuntimeDefault}
YAML
  for _ in $(seq 60); do
    k -n "$namespace" get statefulset prometheus-friendlyhello >/dev/null 2>&1 && break
    sleep 1
  done
  k -n "$namespace" rollout status statefulset/prometheus-friendlyhello --timeout=180s >/dev/null \
    || die "Prometheus did not start (kubectl -n $namespace describe prometheus friendlyhello)"
  log "Prometheus ready: service/prometheus-operated in $namespace, port 9090"
  echo "$namespace/prometheus-operated"
}

delete() {
  k delete namespace "$namespace" --ignore-not-found --wait=true >/dev/null
  k delete clusterrole,clusterrolebinding friendlyhello-prometheus-operator friendlyhello-prometheus \
    --ignore-not-found >/dev/null
  k delete --ignore-not-found -f "$(crds)" >/dev/null
  log "removed the Prometheus Operator, its Prometheus and its CRDs"
}

case "${1:-}" in
  up) up ;;
  delete) delete ;;
  *) echo "usage: hack/monitoring.sh up|delete" >&2; exit 2 ;;
esac

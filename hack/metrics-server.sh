#!/usr/bin/env bash
# metrics-server on the kind cluster: the resource metrics API
# (metrics.k8s.io) that `kubectl top` reads and the HorizontalPodAutoscaler
# scales on. The image comes from image_for (the public one, or a stand-in
# where no registry answers), loaded into the nodes. kind's kubelets serve
# self-signed certificates, so it does not verify them (--kubelet-insecure-tls,
# as kind's own guides do); a cluster whose kubelets have certificates from
# the cluster's CA needs no such flag. `delete` removes it.
# Needs the cluster (make cluster).
# usage: hack/metrics-server.sh up|delete
set -euo pipefail
source "$(dirname "$0")/lib.sh"
context="kind-$CLUSTER_NAME"

k() { kubectl --context "$context" "$@"; }

up() {
  local image
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME" || die "no kind cluster $CLUSTER_NAME (make cluster)"
  image=$(image_for metrics-server)
  load_into_cluster "$image"
  log "metrics-server ($image) in kube-system"
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata:
  name: metrics-server
  namespace: kube-system
---
# Read by users with the view role, as metrics-server's own manifests grant.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: friendlyhello:metrics-reader
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: "true"
    rbac.authorization.k8s.io/aggregate-to-edit: "true"
    rbac.authorization.k8s.io/aggregate-to-admin: "true"
rules:
  - apiGroups: [metrics.k8s.io]
    resources: [pods, nodes]
    verbs: [get, list, watch]
---
# What it reads: the kubelets' resource metrics, and the nodes and pods they are of.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: friendlyhello:metrics-server
rules:
  - apiGroups: [""]
    resources: [nodes/metrics]
    verbs: [get]
  - apiGroups: [""]
    resources: [pods, nodes]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: friendlyhello:metrics-server
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "friendlyhello:metrics-server"}
subjects:
  - {kind: ServiceAccount, name: metrics-server, namespace: kube-system}
---
# As an aggregated API server it checks callers through the API server.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: friendlyhello:metrics-server:auth-delegator
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}
subjects:
  - {kind: ServiceAccount, name: metrics-server, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: friendlyhello:metrics-server:auth-reader
  namespace: kube-system
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects:
  - {kind: ServiceAccount, name: metrics-server, namespace: kube-system}
---
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
spec:
  selector: {app.kubernetes.io/name: metrics-server}
  ports:
    - {name: https, port: 443, targetPort: https, protocol: TCP}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: metrics-server
  namespace: kube-system
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: metrics-server}
  template:
    metadata:
      labels: {app.kubernetes.io/name: metrics-server}
    spec:
      serviceAccountName: metrics-server
      priorityClassName: system-cluster-critical
      securityContext:
        runAsNonRoot: true
        runAsUser: 65534
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: metrics-server
          image: $image
          imagePullPolicy: IfNotPresent
          args:
            - --cert-dir=/tmp
            - --secure-port=10250
            - --kubelet-preferred-address-types=InternalIP
            - --kubelet-use-node-status-port
            - --kubelet-insecure-tls
            - --metric-resolution=15s
          ports:
            - {name: https, containerPort: 10250}
          readinessProbe:
            httpGet: {path: /readyz, port: https, scheme: HTTPS}
            periodSeconds: 5
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {memory: 256Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
      volumes:
        - {name: tmp, emptyDir: {}}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {name: metrics-server, namespace: kube-system}
  # Its serving certificate is self-signed (--cert-dir).
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
YAML
  k -n kube-system rollout status deployment/metrics-server --timeout=180s >/dev/null \
    || die "metrics-server did not start (kubectl -n kube-system logs deployment/metrics-server)"
  # Until its first scrape of every kubelet, the API answers without the nodes.
  for _ in $(seq 90); do
    if [ "$(k top nodes --no-headers 2>/dev/null | wc -l)" -ge "$(k get nodes --no-headers | wc -l)" ]; then
      log "metrics-server ready: kubectl top nodes answers for every node"
      return
    fi
    sleep 1
  done
  die "metrics-server runs but kubectl top nodes does not answer for every node (kubectl -n kube-system logs deployment/metrics-server)"
}

delete() {
  k delete --ignore-not-found apiservice v1beta1.metrics.k8s.io >/dev/null
  k -n kube-system delete --ignore-not-found deployment,service,serviceaccount metrics-server >/dev/null
  k -n kube-system delete --ignore-not-found rolebinding friendlyhello:metrics-server:auth-reader >/dev/null
  k delete --ignore-not-found clusterrolebinding friendlyhello:metrics-server friendlyhello:metrics-server:auth-delegator \
    >/dev/null
  k delete --ignore-not-found clusterrole friendlyhello:metrics-reader friendlyhello:metrics-server >/dev/null
  log "removed metrics-server"
}

case "${1:-}" in
  up) up ;;
  delete) delete ;;
  *) echo "usage: hack/metrics-server.sh up|delete" >&2; exit 2 ;;
esac

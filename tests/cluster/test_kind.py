"""The kind cluster itself: node, system pods, DNS, storage, loaded images,
port-forward, the restricted profile, server-side dry runs."""

import requests
import yaml

from tests.cluster.kube import kubectl, port_forward, restricted_pod, web_image
from tests.support import ROOT, wait_until


def python_pod(core, namespace, image, name, code, volumes=None, mounts=None):
    """Runs CODE in the web image (restricted profile) to completion; returns its log."""
    pod = restricted_pod(name, image, code, volumes=volumes, mounts=mounts)
    core.create_namespaced_pod(namespace, pod)

    def done():
        phase = core.read_namespaced_pod(name, namespace).status.phase
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_until(done, timeout=180, interval=1, message=f"pod {name} to finish")
    log = core.read_namespaced_pod_log(name, namespace)
    assert phase == "Succeeded", log
    return log


def test_nodes_ready_as_configured_and_system_pods_running(core, api):
    from kubernetes import client

    nodes = core.list_node().items
    configured = yaml.safe_load((ROOT / "k8s/kind-cluster.yaml").read_text())["nodes"]
    assert sorted("control-plane" if "node-role.kubernetes.io/control-plane" in n.metadata.labels else "worker"
                  for n in nodes) == sorted(node["role"] for node in configured)
    # The pod network runs on every node: kindnetd (kindest/node) or kube-router (the air-gapped node).
    (network,) = [d for d in client.AppsV1Api(api).list_namespaced_daemon_set("kube-system").items
                  if d.metadata.name in ("kindnet", "kube-router")]
    assert network.status.number_ready == len(nodes), network.status
    for node in nodes:
        ready = {c.type: c.status for c in node.status.conditions}["Ready"]
        assert ready == "True", node.metadata.name
    pods = core.list_namespaced_pod("kube-system").items
    assert {p.metadata.labels.get("component") or p.metadata.labels.get("k8s-app") for p in pods} >= {
        "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kube-proxy", "kube-dns"}
    for pod in pods:
        assert pod.status.phase == "Running", (pod.metadata.name, pod.status.phase)


def test_service_names_resolve_through_coredns(core, namespace, image_values):
    log = python_pod(core, namespace, web_image(image_values), "dns",
                     "import socket; print(socket.gethostbyname('kubernetes.default.svc.cluster.local'))")
    cluster_ip = core.read_namespaced_service("kubernetes", "default").spec.cluster_ip
    assert log.strip() == cluster_ip


def test_claim_binds_and_data_outlives_the_pod(core, namespace, image_values):
    from kubernetes import client

    core.create_namespaced_persistent_volume_claim(namespace, client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name="data"),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            resources=client.V1VolumeResourceRequirements(requests={"storage": "16Mi"}))))
    volumes = [client.V1Volume(name="data", persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(
        claim_name="data"))]
    mounts = [client.V1VolumeMount(name="data", mount_path="/data")]
    image = web_image(image_values)
    python_pod(core, namespace, image, "writer", "open('/data/note','w').write('kept')", volumes, mounts)
    claim = core.read_namespaced_persistent_volume_claim("data", namespace)
    assert claim.status.phase == "Bound"
    read = python_pod(core, namespace, image, "reader", "print(open('/data/note').read())", volumes, mounts)
    assert read.strip() == "kept"


def test_loaded_image_runs_and_port_forward_answers(core, namespace, image_values):
    image = web_image(image_values)
    kubectl("-n", namespace, "create", "deployment", "web", f"--image={image}", "--port=8080")
    kubectl("-n", namespace, "patch", "deployment", "web", "--type=json", "-p",
            '[{"op":"add","path":"/spec/template/spec/containers/0/env","value":[{"name":"REDIS_HOST","value":"127.0.0.1"}]},'
            ' {"op":"add","path":"/spec/template/spec/containers/0/readinessProbe",'
            '  "value":{"httpGet":{"path":"/readyz","port":8080},"periodSeconds":1}}]')
    kubectl("-n", namespace, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    kubectl("-n", namespace, "rollout", "status", "deployment/web", "--timeout=120s")
    pod = core.list_namespaced_pod(namespace, label_selector="app=web").items[0]
    assert pod.spec.containers[0].image_pull_policy == "IfNotPresent"
    with port_forward(namespace, "service/web", 80) as url:
        assert requests.get(url + "/healthz", timeout=10).json() == {"status": "ok"}


def test_server_side_dry_run(namespace):
    result = kubectl("-n", namespace, "create", "configmap", "probe", "--from-literal=a=b",
                     "--dry-run=server", "-o", "name")
    assert result.stdout.strip() == "configmap/probe"

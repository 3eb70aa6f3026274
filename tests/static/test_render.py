"""Properties of the rendered chart, checked on every scenario where they apply."""

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.static.chart import SCENARIOS, find, pod_specs, render
from tests.support import CHART, PINNED, ROOT, helm

scenario_ids = [path.name for path in SCENARIOS]


def test_one_source_of_truth_for_names_and_versions():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pinned = PINNED
    app_version = re.search(r'__version__ = "(.+)"', (ROOT / "app/__init__.py").read_text()).group(1)
    assert values["image"]["repository"] == pinned["IMAGE_REPOSITORY"]
    assert f'{values["redis"]["image"]["repository"]}:{values["redis"]["image"]["tag"]}' == pinned["REDIS_IMAGE"]
    assert chart["appVersion"] == app_version


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_ids)
def test_every_pod_meets_the_restricted_standard(scenario):
    for name, spec in pod_specs(render("-f", str(scenario))):
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, name
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert context["readOnlyRootFilesystem"] is True, name
            assert "resources" in container and container["resources"]["limits"], name


def test_defaults():
    objects = render()
    deployment = find(objects, "Deployment")
    spec = deployment["spec"]
    container = spec["template"]["spec"]["containers"][0]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["image"] == f"friendlyhello:{chart['appVersion']}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "startupProbe" not in container
    service = find(objects, "Service", "rel-friendlyhello")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0]["port"] == 80 and service["spec"]["ports"][0]["targetPort"] == "http"
    kinds = sorted(o["kind"] for o in objects)
    assert "PodDisruptionBudget" in kinds and "NetworkPolicy" in kinds
    assert not {"Ingress", "HorizontalPodAutoscaler", "ServiceMonitor"} & set(kinds)


def test_grace_period_covers_the_drain():
    objects = render("--set", "gunicorn.gracefulTimeout=40", "--set", "lifecycle.preStopSleepSeconds=7")
    spec = find(objects, "Deployment")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] == 7
    assert spec["terminationGracePeriodSeconds"] == 7 + 40 + 5
    config = find(objects, "ConfigMap", "rel-friendlyhello")["data"]
    # One drain delay on Kubernetes: the preStop sleep, not the app's own as well.
    assert config["GRACEFUL_TIMEOUT"] == "40" and config["SHUTDOWN_DELAY"] == "0"


def test_no_prestop_hook_when_its_sleep_is_zero():
    """A `sleep: 0` hook is refused by API servers before 1.33, which the chart supports."""
    spec = find(render("--set", "lifecycle.preStopSleepSeconds=0"), "Deployment")["spec"]["template"]["spec"]
    assert "lifecycle" not in spec["containers"][0]
    assert spec["terminationGracePeriodSeconds"] == 25 + 5


PASSWORD = ("--set", "redis.auth.password=fixed-for-the-comparison")


def pod_templates(*args: str, chart: Path = CHART) -> dict[str, dict]:
    objects = render(*PASSWORD, *args, chart=chart)
    return {kind: find(objects, kind)["spec"]["template"] for kind in ("Deployment", "StatefulSet")}


def test_a_chart_only_release_changes_no_pod_template(tmp_path):
    """A NOTES fix released as a new chart version must restart nothing."""
    bumped = tmp_path / "chart"
    shutil.copytree(CHART, bumped)
    chart_yaml = yaml.safe_load((bumped / "Chart.yaml").read_text())
    chart_yaml["version"] = chart_yaml["version"] + "-bumped"
    (bumped / "Chart.yaml").write_text(yaml.safe_dump(chart_yaml))
    assert pod_templates(chart=bumped) == pod_templates()


def test_config_change_rolls_only_the_pods_that_read_it():
    def checksums(*args):
        return {kind: template["metadata"]["annotations"]["checksum/config"]
                for kind, template in pod_templates(*args).items()}

    default = checksums()
    assert checksums() == default
    for web_change in (("--set", "app.name=Docker"), ("--set", "gunicorn.threads=4")):
        changed = checksums(*web_change)
        assert changed["Deployment"] != default["Deployment"] and changed["StatefulSet"] == default["StatefulSet"]
    changed = checksums("--set", "redis.appendfsync=always")
    assert changed["StatefulSet"] != default["StatefulSet"] and changed["Deployment"] == default["Deployment"]


def test_a_password_rotation_restarts_both_workloads_together():
    def checksums(password):
        templates = pod_templates("--set", f"redis.auth.password={password}")
        return {kind: t["metadata"]["annotations"]["checksum/redis-password"] for kind, t in templates.items()}

    before, after = checksums("first"), checksums("second")
    assert before["Deployment"] == before["StatefulSet"] and after["Deployment"] == after["StatefulSet"]
    assert before["Deployment"] != after["Deployment"]


def test_pod_labels_are_selector_labels_and_pod_labels_only():
    templates = pod_templates("--set", "podLabels.team=counters")
    web = templates["Deployment"]["metadata"]["labels"]
    assert web == {"app.kubernetes.io/name": "friendlyhello", "app.kubernetes.io/instance": "rel",
                   "app.kubernetes.io/component": "web", "team": "counters"}
    assert "helm.sh/chart" not in templates["StatefulSet"]["metadata"]["labels"]


def test_a_generated_secret_says_how_to_keep_it_stable_without_a_cluster():
    result = helm("template", "rel", str(CHART), "--show-only", "templates/redis-secret.yaml")
    assert "set redis.auth.existingSecret" in result.stdout


@pytest.mark.parametrize("release", ["r", "a" * 40, "b" * 53, "friendlyhello-" + "c" * 39])
def test_every_name_fits_for_any_release_name_helm_accepts(release):
    objects = render("--set", "ingress.enabled=true", release=release)
    for obj in objects:
        name = obj["metadata"]["name"]
        assert len(name) <= 63 and not name.endswith("-"), (obj["kind"], name)
        if obj["kind"] == "StatefulSet":
            assert len(name) <= 52, f"{name}: its pods' controller-revision-hash label needs 11 more"
    services = [o["metadata"]["name"] for o in objects if o["kind"] == "Service"]
    assert len(set(services)) == len(services), services


def test_redis_statefulset():
    objects = render()
    statefulset = find(objects, "StatefulSet")
    spec = statefulset["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == PINNED["REDIS_IMAGE"]
    (script,) = container["args"]
    assert "--requirepass" not in script and "$(REDIS_PASSWORD)" not in script, "no password on argv"
    assert "exec redis-server /etc/redis/redis.conf - <<EOF" in script
    env = {item["name"]: item for item in container["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "rel-friendlyhello-redis"
    assert env["REDISCLI_AUTH"]["value"] == "$(REDIS_PASSWORD)", "probes authenticate"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert "redis-cli -h 127.0.0.1 ping" in " ".join(container[probe]["exec"]["command"])
    claim = spec["volumeClaimTemplates"][0]
    assert claim["metadata"] == {"name": "data"}
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    config = find(objects, "ConfigMap", "redis")["data"]["redis.conf"]
    for line in ("appendonly yes", "appendfsync everysec", 'rename-command FLUSHALL ""',
                 'rename-command FLUSHDB ""', 'rename-command DEBUG ""', 'rename-command CONFIG ""',
                 'rename-command EVAL ""', 'rename-command EVALSHA ""', 'rename-command SCRIPT ""',
                 'rename-command FUNCTION ""'):
        assert line in config.splitlines()


def test_persistence_off_uses_an_empty_dir():
    statefulset = find(render("--set", "redis.persistence.enabled=false"), "StatefulSet")
    assert "volumeClaimTemplates" not in statefulset["spec"]
    volumes = {v["name"]: v for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


def copy_chart_with_version(tmp_path, version):
    target = tmp_path / f"chart-{version}"
    shutil.copytree(CHART, target)
    chart_yaml = target / "Chart.yaml"
    chart_yaml.write_text(re.sub(r"(?m)^version: .*$", f"version: {version}", chart_yaml.read_text()))
    return target


def test_selectors_and_claims_do_not_change_between_chart_versions(tmp_path):
    """An upgrade must never touch immutable fields of the Deployment or StatefulSet."""
    old = render(chart=copy_chart_with_version(tmp_path, "0.1.0"))
    new = render(chart=copy_chart_with_version(tmp_path, "9.9.9"))
    for kind in ("Deployment", "StatefulSet"):
        assert find(old, kind)["spec"]["selector"] == find(new, kind)["spec"]["selector"]
        assert find(old, kind)["metadata"]["labels"] != find(new, kind)["metadata"]["labels"]
    assert find(old, "StatefulSet")["spec"]["volumeClaimTemplates"] == \
        find(new, "StatefulSet")["spec"]["volumeClaimTemplates"]
    assert find(old, "StatefulSet")["spec"]["serviceName"] == find(new, "StatefulSet")["spec"]["serviceName"]


def test_selectors_match_their_pods():
    objects = render()
    for kind in ("Deployment", "StatefulSet"):
        workload = find(objects, kind)
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
    web_labels = find(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    redis_labels = find(objects, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    assert find(objects, "Service", "rel-friendlyhello")["spec"]["selector"].items() <= web_labels.items()
    assert find(objects, "Service", "redis")["spec"]["selector"].items() <= redis_labels.items()
    assert find(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= web_labels.items()


def test_network_policies_select_the_real_pods():
    objects = render()
    web_labels = find(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    redis_labels = find(objects, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    test_labels = find(objects, "Pod")["metadata"]["labels"]
    redis_policy = find(objects, "NetworkPolicy", "redis")["spec"]
    assert redis_policy["podSelector"]["matchLabels"].items() <= redis_labels.items()
    assert not redis_policy["podSelector"]["matchLabels"].items() <= web_labels.items()
    (rule,) = redis_policy["ingress"]
    allowed = rule["from"][0]["podSelector"]["matchLabels"]
    assert allowed.items() <= web_labels.items()
    assert not allowed.items() <= test_labels.items(), "only web pods reach Redis"
    assert rule["ports"] == [{"port": "redis", "protocol": "TCP"}]
    web_policy = find(objects, "NetworkPolicy", "rel-friendlyhello")["spec"]
    assert web_policy["podSelector"]["matchLabels"].items() <= web_labels.items()
    assert web_policy["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]


def test_redis_password_secret_and_its_sources():
    generated = find(render(), "Secret")
    assert set(generated["data"]) == {"redis-password"}
    import base64

    given = find(render("--set", "redis.auth.password=s3cret"), "Secret")
    assert base64.b64decode(given["data"]["redis-password"]) == b"s3cret"
    existing = render("--set", "redis.auth.existingSecret=mine")
    assert not [o for o in existing if o["kind"] == "Secret"], "no Secret when one is given"
    web = find(existing, "Deployment")["spec"]["template"]["spec"]
    volume = {v["name"]: v for v in web["volumes"]}["redis-password"]
    assert volume["secret"]["secretName"] == "mine"
    env = {e["name"]: e for e in web["containers"][0]["env"]}
    assert env["REDIS_PASSWORD_FILE"]["value"] == "/etc/friendlyhello/redis/password"
    without_auth = render("--set", "redis.auth.enabled=false")
    assert not [o for o in without_auth if o["kind"] == "Secret"]
    assert "env" not in find(without_auth, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]


def test_password_lookup_reuses_the_existing_secret():
    template = (CHART / "templates/_helpers.tpl").read_text()
    helper = template.split('define "friendlyhello.redis.password"')[1].split("{{- end }}\n{{- end }}")[0]
    assert 'lookup "v1" "Secret" .Release.Namespace' in helper
    assert helper.index("lookup") < helper.index("randAlphaNum"), "reuse comes before generating"


def test_external_redis():
    objects = render("-f", str(CHART / "ci/external-redis-values.yaml"))
    assert not [o for o in objects if o["kind"] == "StatefulSet"]
    config = find(objects, "ConfigMap")["data"]
    assert config["REDIS_HOST"] == "external-redis"
    web = find(objects, "Deployment")["spec"]["template"]["spec"]
    volume = {v["name"]: v for v in web["volumes"]}["redis-password"]
    assert volume["secret"] == {"secretName": "external-redis", "items": [{"key": "password", "path": "password"}]}


def test_all_features():
    objects = render("-f", str(CHART / "ci/all-features-values.yaml"))
    kinds = {o["kind"] for o in objects}
    assert {"Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    assert "ServiceMonitor" not in kinds, "no ServiceMonitor without its CRD"
    assert "replicas" not in find(objects, "Deployment")["spec"], "the HPA owns replicas"
    with_crd = render("-f", str(CHART / "ci/all-features-values.yaml"),
                      "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor")
    monitor = find(with_crd, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    container = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_the_autoscalers_pace_comes_from_its_values():
    hpa = find(render("--set", "autoscaling.enabled=true", "--set", "autoscaling.behavior.scaleDown.pods=2"),
               "HorizontalPodAutoscaler")
    down, up = hpa["spec"]["behavior"]["scaleDown"], hpa["spec"]["behavior"]["scaleUp"]
    assert down == {"stabilizationWindowSeconds": 300, "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}
    assert up == {"stabilizationWindowSeconds": 0, "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]}


@pytest.mark.parametrize("replicas,has_pdb", [(1, False), (2, True), (3, True)])
def test_pod_disruption_budget_only_with_several_replicas(replicas, has_pdb):
    objects = render("--set", f"replicaCount={replicas}")
    assert any(o["kind"] == "PodDisruptionBudget" for o in objects) is has_pdb


def test_digest_pins_the_image():
    digest = "sha256:" + "a" * 64
    deployment = find(render("--set", f"image.digest={digest}"), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"friendlyhello@{digest}"


def test_helm_test_pod_checks_the_counter_path():
    pod = find(render(), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    assert "/readyz" in script and "Visits" in script and "counts[1] <= counts[0]" in script


def test_egress_web_reaches_only_dns_and_redis_and_redis_nothing():
    objects = render()
    web_labels = find(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    redis_labels = find(objects, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    web = find(objects, "NetworkPolicy", "rel-friendlyhello")["spec"]
    assert web["policyTypes"] == ["Ingress", "Egress"]
    dns, redis = web["egress"]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert sorted(p["protocol"] for p in dns["ports"]) == ["TCP", "UDP"] and {p["port"] for p in dns["ports"]} == {53}
    assert redis["to"][0]["podSelector"]["matchLabels"].items() <= redis_labels.items()
    assert not redis["to"][0]["podSelector"]["matchLabels"].items() <= web_labels.items()
    assert redis["ports"] == [{"port": 6379, "protocol": "TCP"}]
    redis_policy = find(objects, "NetworkPolicy", "redis")["spec"]
    assert redis_policy["policyTypes"] == ["Ingress", "Egress"] and redis_policy["egress"] == []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_ids)
def test_every_pod_is_selected_by_a_network_policy(scenario):
    objects = render("-f", str(scenario))
    policies = [o["spec"]["podSelector"]["matchLabels"] for o in objects if o["kind"] == "NetworkPolicy"]
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "Pod"):
            labels = (o["spec"]["template"]["metadata"] if o["kind"] != "Pod" else o["metadata"])["labels"]
            assert any(selector.items() <= labels.items() for selector in policies), o["metadata"]["name"]


def test_the_helm_test_pod_reaches_only_dns_and_the_web_pods():
    objects = render()
    web_labels = find(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    test_labels = find(objects, "Pod", "test-counter")["metadata"]["labels"]
    policy = find(objects, "NetworkPolicy", "-test")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= test_labels.items()
    assert not policy["podSelector"]["matchLabels"].items() <= web_labels.items()
    assert policy["policyTypes"] == ["Ingress", "Egress"] and policy["ingress"] == []
    dns, web = policy["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert web["to"][0]["podSelector"]["matchLabels"].items() <= web_labels.items()
    assert web["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_egress_to_an_external_redis_is_its_port_and_can_be_left_open():
    external = render("--set", "redis.enabled=false", "--set", "externalRedis.host=redis.example",
                      "--set", "externalRedis.port=6380")
    policy = find(external, "NetworkPolicy", "rel-friendlyhello")
    assert policy["spec"]["egress"][1] == {"ports": [{"port": 6380, "protocol": "TCP"}]}
    open_egress = render("--set", "networkPolicy.egress.enabled=false")
    for policy in (o for o in open_egress if o["kind"] == "NetworkPolicy"):
        assert policy["spec"]["policyTypes"] == ["Ingress"] and "egress" not in policy["spec"]


@pytest.mark.parametrize("source", ["configMap", "secret"])
def test_an_external_redis_over_tls_gets_its_ca_bundle_and_acl_user(source):
    bundle = {"configMap": "configMapName", "secret": "secretName"}[source]
    objects = render("--set", "redis.enabled=false", "--set", "externalRedis.host=redis.example",
                     "--set", "externalRedis.existingSecret=ext", "--set", "externalRedis.username=fh",
                     "--set", "externalRedis.tls.enabled=true", "--set", f"externalRedis.tls.caBundle.{bundle}=cas",
                     "--set", "externalRedis.tls.caBundle.key=bundle.pem")
    config = find(objects, "ConfigMap")["data"]
    assert (config["REDIS_USERNAME"], config["REDIS_TLS"]) == ("fh", "true")
    web = find(objects, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in web["volumes"] if v["name"] == "redis-ca")
    assert volume[source]["items"] == [{"key": "bundle.pem", "path": "ca.crt"}]
    assert volume[source].get("name", volume[source].get("secretName")) == "cas"
    mount = next(m for m in web["containers"][0]["volumeMounts"] if m["name"] == "redis-ca")
    assert config["REDIS_TLS_CA_FILE"] == mount["mountPath"] + "/ca.crt"


def test_tls_without_a_bundle_trusts_the_system_cas_and_the_release_redis_ignores_it():
    system = render("--set", "redis.enabled=false", "--set", "externalRedis.host=redis.example",
                    "--set", "externalRedis.tls.enabled=true")
    assert find(system, "ConfigMap")["data"]["REDIS_TLS"] == "true"
    assert "REDIS_TLS_CA_FILE" not in find(system, "ConfigMap")["data"]
    own = render("--set", "externalRedis.tls.enabled=true", "--set", "externalRedis.username=fh",
                 "--set", "externalRedis.existingSecret=ext")
    assert not {"REDIS_TLS", "REDIS_USERNAME"} & find(own, "ConfigMap", "friendlyhello")["data"].keys()


def test_operator_knobs_reach_the_pods():
    objects = render("--set", "priorityClassName=web-high", "--set", "redis.priorityClassName=redis-critical",
                     "--set", "extraEnvFrom[0].secretRef.name=extra", "--set", "resources.limits.ephemeral-storage=1Gi",
                     "--set", "redis.persistence.existingClaim=kept-data")
    web = find(objects, "Deployment")["spec"]["template"]["spec"]
    assert web["priorityClassName"] == "web-high"
    assert {"secretRef": {"name": "extra"}} in web["containers"][0]["envFrom"]
    assert web["containers"][0]["resources"]["limits"]["ephemeral-storage"] == "1Gi"
    redis = find(objects, "StatefulSet")["spec"]
    assert redis["template"]["spec"]["priorityClassName"] == "redis-critical"
    assert "volumeClaimTemplates" not in redis
    volumes = {v["name"]: v for v in redis["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "kept-data"
    defaults = find(render(), "Deployment")["spec"]["template"]["spec"]
    assert "priorityClassName" not in defaults


def test_topology_spread_is_across_nodes_unless_given():
    default = find(render(), "Deployment")["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in default] == [
        ("kubernetes.io/hostname", "ScheduleAnyway")]
    given = find(render("--set", "topologySpreadConstraints[0].maxSkew=1",
                        "--set", "topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
                        "--set", "topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule"),
                 "Deployment")["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert given == [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}]


def test_web_pods_leave_a_lost_node_after_node_loss_toleration_seconds():
    def tolerations(*args: str) -> list[dict] | None:
        return find(render(*args), "Deployment")["spec"]["template"]["spec"].get("tolerations")

    assert tolerations() == [
        {"key": f"node.kubernetes.io/{taint}", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}
        for taint in ("unreachable", "not-ready")]
    assert [t["tolerationSeconds"] for t in tolerations("--set", "nodeLossTolerationSeconds=0")] == [0, 0]
    assert tolerations("--set", "nodeLossTolerationSeconds=null") is None, "null: the cluster's default"
    own = {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}
    assert tolerations("--set-json", f"tolerations=[{json.dumps(own)}]")[-1] == own
    assert tolerations("--set", "nodeLossTolerationSeconds=null", "--set-json", f"tolerations=[{json.dumps(own)}]") \
        == [own]
    redis = find(render(), "StatefulSet")["spec"]["template"]["spec"]
    assert "tolerations" not in redis, "Redis's volume is on its node: replacing it elsewhere cannot help"


def test_probe_timings_and_service_monitor_labels_are_set_from_values():
    web = find(render("--set", "probes.liveness.periodSeconds=20", "--set", "probes.readiness.failureThreshold=3"),
               "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["periodSeconds"] == 20 and web["readinessProbe"]["failureThreshold"] == 3
    monitor = find(render("--set", "metrics.serviceMonitor.enabled=true",
                          "--set", "metrics.serviceMonitor.labels.release=kube-prometheus-stack",
                          "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"), "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_a_service_monitor_without_its_crd_is_said_not_silent():
    notes = helm("install", "rel", str(CHART), "--dry-run", "--namespace", "ns",
                 "--set", "metrics.serviceMonitor.enabled=true").stdout
    assert "No ServiceMonitor was created" in notes


def test_the_ingress_routes_the_page_and_the_api_but_not_metrics():
    ingress = find(render("--set", "ingress.enabled=true", "--set", "ingress.host=fh.example.test"), "Ingress")
    paths = [(p["path"], p["pathType"]) for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths == [("/", "Exact"), ("/api/", "Prefix")]

    def routed(url_path):
        return any(url_path == path if kind == "Exact" else url_path.startswith(path) for path, kind in paths)

    assert routed("/") and routed("/api/visits")
    assert not any(routed(path) for path in ("/metrics", "/healthz", "/readyz", "/version"))

"""Every chart/ci scenario installs, passes helm test and uninstalls (through
`ct install`, once each); the plain manifests are accepted by the API server.
What an uninstall leaves behind is checked in test_helm_versions.py, for the
default values (ct checks only that each uninstall succeeds)."""

import json
import re
from pathlib import Path

from tests.cluster.kube import kubectl
from tests.support import CHART, PINNED, ROOT, Certificates, run

SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))


def provide_external_redis(namespace: str, image_values: list[str], workdir: Path) -> None:
    """What external-redis-values.yaml expects, served as managed Redis services
    serve it: a Redis at external-redis that speaks only TLS, with a certificate
    for that name from a CA of the test's own (in the ConfigMap external-redis-ca),
    and lets in only the ACL user friendlyhello (its password in a Secret)."""
    values = dict(v.split("=", 1) for v in image_values if "=" in v)
    image = (f"{values['redis.image.repository']}:{values['redis.image.tag']}"
             if "redis.image.repository" in values else PINNED["REDIS_IMAGE"])
    tls = Certificates(workdir / "external-redis-tls", ["external-redis"])
    kubectl("-n", namespace, "create", "secret", "generic", "external-redis", "--from-literal=password=ext-s3cret")
    kubectl("-n", namespace, "create", "secret", "generic", "external-redis-tls",
            f"--from-file=tls.crt={tls.cert}", f"--from-file=tls.key={tls.key}")
    kubectl("-n", namespace, "create", "configmap", "external-redis-ca", f"--from-file=ca.crt={tls.ca}")
    server = ["redis-server", "--port", "0", "--tls-port", "6379", "--tls-auth-clients", "no",
              "--tls-cert-file", "/tls/tls.crt", "--tls-key-file", "/tls/tls.key", "--tls-ca-cert-file", "/ca/ca.crt",
              "--user", "default", "off", "--user", "friendlyhello", "on", ">ext-s3cret", "~*", "&*", "+@all",
              "--protected-mode", "no", "--save", ""]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "external-redis", "labels": {"app": "external-redis"}},
           "spec": {"containers": [{"name": "redis", "image": image, "imagePullPolicy": "IfNotPresent",
                                    "command": server, "ports": [{"containerPort": 6379}],
                                    "volumeMounts": [{"name": "tls", "mountPath": "/tls", "readOnly": True},
                                                     {"name": "ca", "mountPath": "/ca", "readOnly": True}]}],
                    "volumes": [{"name": "tls", "secret": {"secretName": "external-redis-tls"}},
                                {"name": "ca", "configMap": {"name": "external-redis-ca"}}]}}
    manifest = workdir / "external-redis.json"
    manifest.write_text(json.dumps(pod))
    kubectl("-n", namespace, "apply", "-f", str(manifest))
    kubectl("-n", namespace, "expose", "pod", "external-redis", "--port=6379")
    kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod/external-redis", "--timeout=120s")


def test_plain_manifests_pass_server_side_dry_run(core):
    """The API server accepts k8s/ (a dry run needs the namespace to exist)."""
    target = PINNED["RELEASE_NAMESPACE"]
    created = kubectl("create", "namespace", target, check=False).returncode == 0
    try:
        result = kubectl("apply", "--dry-run=server", "-k", str(ROOT / "k8s"))
        for name in ("deployment.apps/friendlyhello", "statefulset.apps/friendlyhello-redis",
                     "service/friendlyhello", "networkpolicy.networking.k8s.io/friendlyhello-redis"):
            assert re.search(rf"^{re.escape(name)} (created|configured|unchanged) \(server dry run\)$",
                             result.stdout, re.M), result.stdout
    finally:
        if created:
            kubectl("delete", "namespace", target, "--wait=false")


def test_ct_install_over_every_scenario(namespace, core, image_values, tmp_path):
    """chart-testing, as users of the GitHub workflow know it: `ct install` installs
    the chart once per chart/ci values file, runs `helm test` (ct fails when it
    fails) and uninstalls. The external-redis scenario finds its Redis in the
    namespace, over TLS as an ACL user; its helm test counts through it."""
    provide_external_redis(namespace, image_values, tmp_path)
    result = run("ct", "install", "--charts", str(CHART), "--namespace", namespace,
                 "--release-label", "app.kubernetes.io/instance",
                 "--helm-extra-set-args", " ".join(image_values), timeout=1500, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for scenario in SCENARIOS:
        assert f"ci/{scenario.name}" in output, f"ct install did not use {scenario.name}"
    assert "All charts installed successfully" in output, output[-3000:]

"""Prints the kind cluster config: k8s/kind-cluster.yaml plus what this host needs.

Everything a sandboxed or unusual Docker host needs beyond a normal one is
decided here, each part only when the Docker host (not the machine running
this) shows the need:
  - cgroup v1: kubelets from 1.35 on refuse it unless failCgroupV1 is false;
    and the nodes use the cgroupfs driver, not systemd's: runc's systemd
    driver freezes a container's cgroup while it sets it up, and cgroup v1's
    freezer fails that now and then on a busy host ("unable to freeze"). A pod
    that is not restarted then fails, e.g. local-path's helper pod, and the
    volume it was to create waits for the provisioner's 2-minute timeout;
  - a capability bounding set without CAP_SYS_RESOURCE: the node's containerd
    runs runc through hack/host/runc-capbnd (mounted into the node), clamps
    oom_score_adj instead of lowering it, and its unit does not ask for a
    negative OOMScoreAdjust or an unlimited open-files limit it cannot get;
  - an open-files hard limit below what kind's units ask for: the same cap.
usage: python hack/host/kind_config.py HOST_FILES_DIR NODE_IMAGE > config.yaml
       (KIND_CLUSTER_CONFIG: another cluster config than k8s/kind-cluster.yaml)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CAP_SYS_RESOURCE = 24
WRAPPER_IN_NODE = "/usr/local/bin/runc-capbnd"


# Run in a throwaway container of the node image, in the Docker host's PID
# namespace: dockerd's capability bounding set (what its containers can be
# given) and the open-files limit its containers get.
HOST_PROBE = """
for status in /proc/[0-9]*/status; do
  if grep -qx 'Name:[[:space:]]*dockerd' "$status" 2>/dev/null; then grep '^CapBnd:' "$status"; break; fi
done
ulimit -Hn
"""


def docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        sys.exit(f"kind_config.py: docker {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def docker_host(node_image: str) -> tuple[int, int, int | None]:
    """The Docker host's cgroup version, dockerd's capability bounding set and
    its containers' open-files hard limit (None: unlimited), read from the
    Docker host itself: right under a local engine, Docker Desktop's VM or a
    remote DOCKER_HOST alike."""
    cgroup = int(docker("info", "--format", "{{.CgroupVersion}}").strip() or "1")
    lines = docker("run", "--rm", "--pid=host", "--network=none", "--entrypoint", "sh", node_image,
                   "-c", HOST_PROBE).split()
    bounding = int(lines[lines.index("CapBnd:") + 1], 16) if "CapBnd:" in lines else ~0
    hard = None if lines[-1] == "unlimited" else int(lines[-1])
    return cgroup, bounding, hard


def main() -> int:
    host_dir = Path(sys.argv[1]).resolve()
    cgroup, bounding, open_files = docker_host(sys.argv[2])
    host_dir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(Path(os.environ.get("KIND_CLUSTER_CONFIG", ROOT / "k8s/kind-cluster.yaml")).read_text())
    mounts, kubeadm_patches, containerd_patches, unit_lines = [], [], [], []

    if cgroup == 1:
        kubeadm_patches.append("kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\n"
                               "failCgroupV1: false\ncgroupDriver: cgroupfs\n")
        for runtime in ("runc", "test-handler"):
            containerd_patches.append(
                f'[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{runtime}.options]\n'
                "  SystemdCgroup = false\n")

    if not bounding >> CAP_SYS_RESOURCE & 1:
        wrapper = host_dir / "runc-capbnd"
        wrapper.write_text((ROOT / "hack/host/runc-capbnd").read_text())
        wrapper.chmod(0o755)
        mounts.append({"hostPath": str(wrapper), "containerPath": WRAPPER_IN_NODE, "readOnly": True})
        containerd_patches.append(
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
            f'  BinaryName = "{WRAPPER_IN_NODE}"\n'
            '[plugins."io.containerd.grpc.v1.cri"]\n'
            "  restrict_oom_score_adj = true\n")
        unit_lines.append("OOMScoreAdjust=0")

    if open_files is not None and open_files < 1048576:
        unit_lines.append(f"LimitNOFILE={open_files}")

    if unit_lines:
        dropin = host_dir / "containerd-host.conf"
        dropin.write_text("[Service]\n" + "\n".join(unit_lines) + "\n")
        mounts.append({"hostPath": str(dropin), "readOnly": True,
                       "containerPath": "/etc/systemd/system/containerd.service.d/10-host.conf"})
    if mounts:
        # Every node runs containers, so every node needs them.
        for node in config["nodes"]:
            node["extraMounts"] = node.get("extraMounts", []) + [dict(mount) for mount in mounts]
    if kubeadm_patches:
        config["kubeadmConfigPatches"] = config.get("kubeadmConfigPatches", []) + kubeadm_patches
    if containerd_patches:
        config["containerdConfigPatches"] = config.get("containerdConfigPatches", []) + containerd_patches
    yaml.safe_dump(config, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Prints the kind cluster config: k8s/kind-cluster.yaml plus what this host needs.

Everything a sandboxed or unusual host needs beyond a normal one is decided
here, each part only when the host shows the need:
  - cgroup v1: kubelets from 1.35 on refuse it unless failCgroupV1 is false;
  - a capability bounding set without CAP_SYS_RESOURCE: the node's containerd
    runs runc through hack/runc-capbnd (mounted into the node), clamps
    oom_score_adj instead of lowering it, and its unit does not ask for a
    negative OOMScoreAdjust or an unlimited open-files limit it cannot get;
  - an open-files hard limit below what kind's units ask for: the same cap.
usage: python hack/kind_config.py HOST_FILES_DIR > config.yaml
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CAP_SYS_RESOURCE = 24
WRAPPER_IN_NODE = "/usr/local/bin/runc-capbnd"


def bounding_set() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    return ~0


def main() -> int:
    host_dir = Path(sys.argv[1]).resolve()
    host_dir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "k8s/kind-cluster.yaml").read_text())
    mounts, kubeadm_patches, containerd_patches, unit_lines = [], [], [], []

    if not Path("/sys/fs/cgroup/cgroup.controllers").exists():
        kubeadm_patches.append(
            "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\nfailCgroupV1: false\n")

    if not bounding_set() >> CAP_SYS_RESOURCE & 1:
        wrapper = host_dir / "runc-capbnd"
        wrapper.write_text((ROOT / "hack/runc-capbnd").read_text())
        wrapper.chmod(0o755)
        mounts.append({"hostPath": str(wrapper), "containerPath": WRAPPER_IN_NODE, "readOnly": True})
        containerd_patches.append(
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
            f'  BinaryName = "{WRAPPER_IN_NODE}"\n'
            '[plugins."io.containerd.grpc.v1.cri"]\n'
            "  restrict_oom_score_adj = true\n")
        unit_lines.append("OOMScoreAdjust=0")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1048576:
        unit_lines.append(f"LimitNOFILE={hard}")

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

"""RKE2's config.yaml, the node's role, and the kube-vip static pod (create mode).

Roles (as Harvester): ``create`` and ``management`` run an RKE2 server; ``default`` joins as an
agent (a cluster controller may promote it later); ``worker`` is an agent; ``witness`` is an
etcd-only server tainted NoExecute. ``/etc/stook/node.env`` tells the OS which RKE2 unit to run.
"""

from __future__ import annotations

from typing import Any

import yaml

from stook_core.config.model import InstallSpec
from stook_installer.engine.files.network import ip_interface
from stook_installer.engine.nodefile import NodeFile

RKE2_CONFIG = "/etc/rancher/rke2/config.yaml"
STATIC_PODS = "/var/lib/rancher/rke2/agent/pod-manifests"
KUBE_VIP_IMAGE = "ghcr.io/kube-vip/kube-vip:v0.8.9"
WITNESS_TAINT = "node-role.kubernetes.io/etcd=true:NoExecute"


def rke2_type(spec: InstallSpec) -> str:
    if spec.mode == "create" or spec.role in ("management", "witness"):
        return "server"
    return "agent"


def rke2_config(spec: InstallSpec) -> dict[str, Any]:
    token = spec.token.get_secret_value()
    config: dict[str, Any] = {"token": token, "node-name": spec.hostname}
    if spec.server_url is not None:
        config["server"] = spec.server_url
    net = spec.management_interface
    if net.address is not None:
        config["node-ip"] = str(net.address.ip)
    config["node-label"] = [f"stook.io/role={spec.role}", f"stook.io/node={spec.hostname}"]
    if rke2_type(spec) == "server":
        sans = [spec.hostname]
        if spec.vip is not None and spec.vip.address is not None:
            sans.insert(0, str(spec.vip.address))
        config["tls-san"] = sans
        config["cni"] = "canal"
        config["cluster-cidr"] = str(spec.cluster.pod_cidr)
        config["service-cidr"] = str(spec.cluster.service_cidr)
        config["cluster-dns"] = str(spec.cluster.dns)
    if spec.role == "witness":
        config["node-taint"] = [WITNESS_TAINT]
        config["disable-apiserver"] = True
        config["disable-controller-manager"] = True
        config["disable-scheduler"] = True
    return config


def rke2_files(spec: InstallSpec) -> list[NodeFile]:
    token = spec.token.get_secret_value()
    text = "# Written by the Stook installer.\n" + yaml.safe_dump(
        rke2_config(spec), sort_keys=False, default_flow_style=False
    )
    node_env = f"STOOK_RKE2_TYPE={rke2_type(spec)}\nSTOOK_ROLE={spec.role}\n"
    files = [
        NodeFile(RKE2_CONFIG, text, mode=0o600, secrets=(token,)),
        NodeFile("/etc/stook/node.env", node_env),
    ]
    if spec.mode == "create" and spec.vip is not None:
        files.append(kube_vip_manifest(spec))
    return files


def kube_vip_manifest(spec: InstallSpec) -> NodeFile:
    vip = spec.vip
    assert vip is not None
    env = {
        "vip_arp": "true",
        "vip_interface": ip_interface(spec.management_interface),
        "port": "6443",
        "cp_enable": "true",
        "vip_leaderelection": "true",
        "vip_leasename": "plndr-cp-lock",
        "svc_enable": "false",
    }
    if vip.mode == "dhcp":
        env["address"] = "0.0.0.0"
        env["vip_ddns"] = "false"
        if vip.hw_addr:
            env["vip_hwaddr"] = vip.hw_addr
    else:
        env["address"] = str(vip.address)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "hostNetwork": True,
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}],
            "containers": [
                {
                    "name": "kube-vip",
                    "image": KUBE_VIP_IMAGE,
                    "args": ["manager"],
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                    "securityContext": {
                        "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}
                    },
                    "volumeMounts": [
                        {"name": "kubeconfig", "mountPath": "/etc/kubernetes/admin.conf"}
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "kubeconfig",
                    "hostPath": {"path": "/etc/rancher/rke2/rke2.yaml", "type": "FileOrCreate"},
                }
            ],
        },
    }
    text = "# Written by the Stook installer: the cluster VIP.\n" + yaml.safe_dump(
        pod, sort_keys=False
    )
    return NodeFile(f"{STATIC_PODS}/kube-vip.yaml", text, mode=0o600)

"""What a joining node's check (installer/stook_installer/engine/join.py) asks of a cluster, made
from the test kube-apiserver (support.apiserver): RKE2's full token for its CA, a token that may
(or may not) get nodes, and a supervisor stand-in whose certificate that CA signs."""

from __future__ import annotations

import hashlib
import uuid

from kubernetes import client as k8s

from support.apiserver import KubeCluster, sign
from support.supervisor import Supervisor


def cluster_ca(cluster: KubeCluster) -> bytes:
    """The test API server's CA bundle: what the supervisor serves at /cacerts."""
    assert cluster.workdir is not None, "an external cluster's CA is not at hand"
    return (cluster.workdir / "pki" / "ca.crt").read_bytes()


def full_token(ca: bytes, secret: str) -> str:
    """RKE2's full token form for *ca*: ``K10<sha256 of the CA bundle>::server:<secret>``."""
    return f"K10{hashlib.sha256(ca).hexdigest()}::server:{secret}"


def cluster_supervisor(cluster: KubeCluster, host: str, port: int = 0) -> Supervisor:
    """A supervisor on *host*:*port* serving the cluster's CA, with a certificate it signed for
    *host* (enter it to serve)."""
    assert cluster.workdir is not None, "an external cluster's CA cannot sign"
    pki = cluster.workdir / "pki"
    name = f"supervisor-{host}"
    sign(pki, name, "/CN=rke2-supervisor", f"subjectAltName=IP:{host}")
    return Supervisor(host, port, cluster_ca(cluster), pki / f"{name}.crt", pki / f"{name}.key")


def service_account_token(admin: k8s.ApiClient, *, may_get_nodes: bool = True) -> str:
    """A fresh ServiceAccount's token, allowed ``get`` on nodes (install.join_check.api_token:
    docs/fleet.md) or, with *may_get_nodes* False, nothing at all."""
    core, rbac = k8s.CoreV1Api(admin), k8s.RbacAuthorizationV1Api(admin)
    name = f"join-check-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_service_account("default", {"metadata": {"name": name}})
    if may_get_nodes:
        rbac.create_cluster_role(
            {"metadata": {"name": name},
             "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]}
        )  # fmt: skip
        rbac.create_cluster_role_binding(
            {"metadata": {"name": name},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                         "name": name},
             "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}]}
        )  # fmt: skip
    request = core.create_namespaced_service_account_token(
        name, "default", {"spec": {"expirationSeconds": 3600}}
    )
    return str(request.status.token)

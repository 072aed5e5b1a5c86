"""Where the console finds the API server: in the pod, or from a kubeconfig (development).

Only the cluster part of a kubeconfig is read (server, CA): its user credentials are ignored,
since every call is made with the signed-in user's token.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

from stook_console.kube import Cluster

# The chart mounts the kube-root-ca.crt ConfigMap here (no ServiceAccount token is mounted).
IN_CLUSTER_CA = Path("/etc/stook-console/kube-ca/ca.crt")


class SettingsError(ValueError):
    """A configuration the console cannot start with (the message says what and how)."""


def from_kubeconfig(path: Path, context: str | None = None) -> Cluster:
    try:
        config: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(f"--kubeconfig {path}: cannot read it: {error}") from None
    name = context or config.get("current-context")
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    if name not in contexts:
        raise SettingsError(f"--kubeconfig {path}: context {name!r} not found")
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
    cluster = clusters.get(contexts[name].get("cluster"))
    if not cluster or not cluster.get("server"):
        raise SettingsError(f"--kubeconfig {path}: context {name!r} names no cluster with a server")
    ca_file = cluster.get("certificate-authority")
    if ca_file and not Path(ca_file).is_absolute():
        ca_file = str(path.parent / ca_file)
    data = cluster.get("certificate-authority-data")
    return Cluster(
        server=str(cluster["server"]),
        ca_file=ca_file,
        ca_data=base64.b64decode(data).decode() if data else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


def in_cluster() -> Cluster:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise SettingsError(
            "not in a pod (KUBERNETES_SERVICE_HOST is unset): pass --kubeconfig or --server"
        )
    if not IN_CLUSTER_CA.is_file():
        raise SettingsError(f"{IN_CLUSTER_CA} is missing: mount the kube-root-ca.crt ConfigMap")
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return Cluster(server=server, ca_file=str(IN_CLUSTER_CA))

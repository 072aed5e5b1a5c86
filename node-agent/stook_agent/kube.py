"""An API client from the pod's service account, or from a kubeconfig outside a cluster."""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes import client as k8s
from kubernetes import config


def api_client(kubeconfig: str | None = None) -> k8s.ApiClient:
    """In a pod (KUBERNETES_SERVICE_HOST set, no kubeconfig given) use the service account."""
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = k8s.Configuration()
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return k8s.ApiClient(configuration)
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if not path:
        raise config.ConfigException(
            "no Kubernetes credentials: run in a pod, pass --kubeconfig, or set KUBECONFIG"
        )
    missing = [part for part in path.split(os.pathsep) if not Path(part).is_file()]
    if missing:
        raise config.ConfigException(f"kubeconfig {', '.join(missing)} not found: fix the path")
    api: k8s.ApiClient = config.new_client_from_config(config_file=path)  # type: ignore[no-untyped-call]
    return api

"""API clients from a kubeconfig (or a pod's service account), with TCP keepalive.

Keepalive (idle 30 s, then 9 probes 15 s apart, client-go's timings) ends a connection whose
peer vanished without closing it (a rebooted API server, a NAT that forgot the flow); the
runtime's per-request timeouts (``runtime.client``) bound every call on top of that.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import urllib3
from kubernetes import client as k8s
from kubernetes import config

KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 30, 15, 9


def keepalive_options() -> list[tuple[int, int, int]]:
    options = list(urllib3.connection.HTTPConnection.default_socket_options)  # TCP_NODELAY
    options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


def api_client(kubeconfig: str | None = None) -> k8s.ApiClient:
    """In a pod (KUBERNETES_SERVICE_HOST set, no kubeconfig given) use the service account."""
    configuration = k8s.Configuration()
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        path = kubeconfig or os.environ.get("KUBECONFIG")
        if not path:
            raise config.ConfigException(
                "no Kubernetes credentials: run in a pod, pass --kubeconfig, or set KUBECONFIG"
            )
        missing = [part for part in path.split(os.pathsep) if not Path(part).is_file()]
        if missing:
            raise config.ConfigException(f"kubeconfig {', '.join(missing)} not found: fix the path")
        config.load_kube_config(config_file=path, client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.socket_options = keepalive_options()
    return k8s.ApiClient(configuration)

"""The VM controller runs with the chart's stook-controller ServiceAccount: its ClusterRole
grants every call the controller makes (and the API server's RBAC is real here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes import config

from integration.agent.kubehelpers import wait_until
from integration.vms.test_virtualserver import Cluster, _server
from support.apiserver import KubeCluster
from support.chart import NAMESPACE, apply_chart


def _controller_client(api: k8s.ApiClient, cluster: KubeCluster) -> k8s.ApiClient:
    apply_chart(api)
    token = k8s.CoreV1Api(api).create_namespaced_service_account_token(
        "stook-controller", NAMESPACE, {"spec": {"audiences": [], "expirationSeconds": 600}}
    )
    path = cluster.token_kubeconfig("vms-controller", str(token.status.token))
    client: k8s.ApiClient = config.new_client_from_config(config_file=str(path))
    return client


def test_the_controller_service_account_may_do_all_the_vm_controller_does(
    vm_api: k8s.ApiClient, cluster: KubeCluster, namespace: str, run_vms: Callable[..., Any]
) -> None:
    run_vms(_controller_client(vm_api, cluster))
    kube = Cluster(vm_api, namespace)  # the test itself acts as the admin (and as KubeVirt)
    server = kube.create(_server(namespace, runStrategy="Manual"))
    vm = kube.vm(server)  # server-side apply created the VM, and the Service:
    wait_until(lambda: kube.core.list_namespaced_service(namespace).items, "the Service")
    wait_until(lambda: kube.status_of().get("vm"), "the status")
    vmi = kube.running_vmi(vm)
    kube.request("restart")  # a state change request: the VM's status subresource
    last = wait_until(lambda: kube.status_of().get("lastAction"), "the restart's outcome")
    assert last["accepted"] is True, last
    requests = kube.vms.get(kube.key(vm["metadata"]["name"]))["status"]["stateChangeRequests"]
    assert requests == [{"action": "Stop", "uid": vmi["metadata"]["uid"]}, {"action": "Start"}]
    kube.request("stop")  # refused now (a request is pending), but recorded: events and status
    wait_until(lambda: kube.status_of()["lastAction"]["action"] == "stop", "the stop's outcome")
    assert "still being carried out" in kube.status_of()["lastAction"]["message"]

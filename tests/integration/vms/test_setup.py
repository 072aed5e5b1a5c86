"""The VM feature on the agent's manager: a cluster controller, run only by the process that
holds the Lease, through the cluster side's credential."""

from __future__ import annotations

import contextlib
import threading
import uuid

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from integration.agent.kubehelpers import wait_until
from integration.vms.test_virtualserver import Cluster, _server
from stook_agent import vms
from stook_agent.runtime.leader import LeaseSettings
from stook_agent.runtime.manager import Manager, ManagerSettings
from stook_agent.settings import AgentSettings

TIMINGS = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}


def _manager(api: k8s.ApiClient, cluster_api: k8s.ApiClient | None, lease: str) -> Manager:
    settings = LeaseSettings(identity=f"test-{lease}", namespace="stook-system", name=lease,
                             **TIMINGS)  # fmt: skip
    return Manager(api, ManagerSettings(metrics_port=0, drain_timeout=2.0, lease=settings),
                   cluster_api=cluster_api)  # fmt: skip


def test_without_the_cluster_credential_no_vm_controller_runs(vm_api: k8s.ApiClient) -> None:
    assert vms.setup(_manager(vm_api, None, "unused"), AgentSettings(node="n1")) is None


def test_the_leader_renders_virtualservers(vm_api: k8s.ApiClient, namespace: str) -> None:
    with contextlib.suppress(ApiException):
        k8s.CoreV1Api(vm_api).create_namespace({"metadata": {"name": "stook-system"}})
    lease = f"vms-{uuid.uuid4().hex[:8]}"
    manager = _manager(vm_api, vm_api, lease)
    controller = vms.setup(manager, AgentSettings(node="n1"))
    assert controller is not None and controller.needs_leader
    stop = threading.Event()
    runner = threading.Thread(target=manager.run, args=(stop,), daemon=True)
    runner.start()
    try:
        wait_until(manager.is_leader, "the Lease")
        kube = Cluster(vm_api, namespace)
        vm = kube.vm(kube.create(_server(namespace)))
        assert vm["spec"]["runStrategy"] == "Always"
        wait_until(lambda: kube.status_of().get("vm"), "the VirtualServer's status")
        wait_until(manager.ready, "the manager ready")
    finally:
        stop.set()
        runner.join(timeout=10)

"""No update is lost when kube-apiserver crashes or the agent's resourceVersion expires (410)."""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client as k8s

from integration.agent.kubehelpers import (
    StateMirror,
    TcpProxy,
    block_device,
    get_or_none,
    ready_generation,
    wait_until,
)
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.controller import Controller
from support.apiserver import KubeCluster

Start = Callable[..., tuple[Controller, StateMirror]]
FINALIZER = "stook.io/test-cleanup"


def _settled(devices: ResourceClient, wanted: dict[str, int]) -> bool:
    """Every key has Ready for its wanted generation (0: the object must be gone)."""
    for key, generation in wanted.items():
        obj = get_or_none(devices, key)
        if generation == 0:
            if obj is not None:
                return False
        elif ready_generation(obj) != generation:
            return False
    return True


def _changes_while_away(devices: ResourceClient, node: str) -> dict[str, int]:
    """An update, a create and a delete (held by the finalizer) the agent has not seen yet."""
    devices.patch(f"{node}-a", {"spec": {"tags": ["Inactive"]}})
    devices.create(block_device(f"{node}-c", node))
    devices.delete(f"{node}-b")
    return {f"{node}-a": 2, f"{node}-b": 0, f"{node}-c": 1}


def _relists(controller: Controller, reason: str) -> float:
    value: float = controller.metrics.relists.labels(controller.name, reason)._value.get()
    return value


def _two_devices_reconciled(
    run_controller: Start, api: k8s.ApiClient, devices: ResourceClient, node: str
) -> tuple[Controller, StateMirror]:
    """A controller reaching the API server through the proxy, with two devices reconciled once."""
    controller, mirror = run_controller(node, via=api, finalizer=FINALIZER, watch_max_backoff=1.0)
    for name in ("a", "b"):
        devices.create(block_device(f"{node}-{name}", node))
    wait_until(lambda: _settled(devices, {f"{node}-a": 1, f"{node}-b": 1}), "first reconciles")
    return controller, mirror


def test_killing_and_restarting_kube_apiserver_loses_no_update(
    cluster: KubeCluster,
    proxy: TcpProxy,
    api_via_proxy: k8s.ApiClient,
    run_controller: Start,
    devices: ResourceClient,
    node: str,
) -> None:
    controller, mirror = _two_devices_reconciled(run_controller, api_via_proxy, devices, node)

    cluster.restart_apiserver()  # SIGKILL, then start again on the same etcd
    wanted = _changes_while_away(devices, node)

    wait_until(lambda: _settled(devices, wanted), "every change made after the restart")
    assert any(c[:2] == ("finalize", f"{node}-b") for c in mirror.seen())
    assert controller.metrics.watch_errors.labels(controller.name)._value.get() >= 1


def test_a_410_after_compaction_relists_and_loses_no_update(
    cluster: KubeCluster,
    proxy: TcpProxy,
    api_via_proxy: k8s.ApiClient,
    run_controller: Start,
    devices: ResourceClient,
    node: str,
) -> None:
    controller, mirror = _two_devices_reconciled(run_controller, api_via_proxy, devices, node)
    assert _relists(controller, "expired") == 0

    proxy.cut()  # the agent is disconnected; the API server keeps running
    wanted = _changes_while_away(devices, node)
    # A fresh watch cache starts after these writes and etcd forgets the history before them,
    # so the agent's resourceVersion is too old both in the cache and in storage.
    cluster.restart_apiserver()
    cluster.compact()
    proxy.restore()

    wait_until(lambda: _settled(devices, wanted), "every change made while disconnected")
    assert _relists(controller, "expired") >= 1, "the agent never saw a 410"
    assert any(c[:2] == ("finalize", f"{node}-b") for c in mirror.seen())

"""A restarted (or new) leader decides nothing while a cache is still filling: on a partial
view it would delete NADs and node labels that should stay, or start a second change."""

from __future__ import annotations

from kubernetes import client as k8s

from stook_agent.networks.cluster_reconcile import (
    SYNC_WAIT,
    ClusterNetworkReconciler,
    UplinkConfigReconciler,
    VMNetworkReconciler,
)
from stook_agent.networks.cluster_rollout import RolloutReconciler
from stook_agent.networks.cluster_view import View
from stook_agent.networks.resources import (
    CLUSTER_NETWORK,
    MANAGEMENT_CHANGE,
    NAD,
    NIC_INVENTORY,
    NODE_NETWORK,
    UPLINK_CONFIG,
    VM_NETWORK,
)
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.controller import Result
from stook_agent.runtime.informer import Informer
from stook_agent.runtime.kinds import NODE
from stook_agent.runtime.metrics import Metrics
from stook_agent.runtime.resource import Resource
from stook_agent.vms.kubevirt import VIRTUAL_MACHINE

# Nothing listens here: a write (or read) through these clients would raise.
NOWHERE = k8s.ApiClient(k8s.Configuration(host="https://127.0.0.1:9"))
METRICS = Metrics()


def client(resource: Resource) -> ResourceClient:
    return ResourceClient(NOWHERE, resource, (0.5, 0.5))


def informer(resource: Resource, synced: bool = True) -> Informer:
    made = Informer(resource.plural, client(resource), lambda *_: None, METRICS)
    if synced:
        made.synced.set()
    return made


def view(unsynced: Resource) -> View:
    secondary = {"node_networks": NODE_NETWORK, "inventories": NIC_INVENTORY, "nodes": NODE,
                 "nads": NAD, "vms": VIRTUAL_MACHINE}  # fmt: skip
    primary = {"networks": CLUSTER_NETWORK, "configs": UPLINK_CONFIG, "vm_networks": VM_NETWORK,
               "changes": MANAGEMENT_CHANGE}  # fmt: skip
    made = View(**{k: informer(r, r != unsynced) for k, r in secondary.items()})
    made.primaries = {k: informer(r, r != unsynced) for k, r in primary.items()}
    return made


def test_no_reconciler_acts_on_a_partial_view() -> None:
    network = {"metadata": {"name": "vms", "resourceVersion": "1"}, "spec": {}}
    vmn = {"metadata": {"name": "v", "namespace": "ns", "resourceVersion": "1"},
           "spec": {"clusterNetwork": "vms", "vlanId": 100}}  # fmt: skip
    config = {"metadata": {"name": "u", "resourceVersion": "1"},
              "spec": {"clusterNetwork": "vms", "nics": [{"name": "ens5"}]}}  # fmt: skip
    change = {"metadata": {"name": "c", "uid": "u", "resourceVersion": "1"}, "spec": {"mtu": 9000}}
    wait = Result(requeue_after=SYNC_WAIT)
    for unsynced in (NODE_NETWORK, NAD, CLUSTER_NETWORK):
        partial = view(unsynced)
        reconciler = ClusterNetworkReconciler(client(CLUSTER_NETWORK), client(NODE), partial, None)
        assert reconciler.reconcile(network) == wait
        assert reconciler.absent("vms") == wait  # no label removed either
        vm_networks = VMNetworkReconciler(client(VM_NETWORK), client(NAD), partial, None)
        assert vm_networks.reconcile(vmn) == wait
    partial = view(MANAGEMENT_CHANGE)
    assert RolloutReconciler(client(MANAGEMENT_CHANGE), partial, None).reconcile(change) == wait
    assert UplinkConfigReconciler(client(UPLINK_CONFIG), partial, None).reconcile(config) == wait
    # Management changes and uplink configs need no Multus.
    no_multus = view(NAD)
    assert no_multus.synced(nads=False) and not no_multus.synced()

"""A node's NodeNetwork and NicInventory are written only by that node (the chart's RBAC and
admission policy on the real kube-apiserver); nodes only read the cluster's network wishes."""

from __future__ import annotations

import uuid
from typing import Any

from kubernetes import client as k8s
from kubernetes import config

from integration.agent.test_node_authorization import (
    Client,
    chart_applied,  # noqa: F401 (the chart's RBAC and policies, in force)
    denied,
    denied_by_policy,
)
from integration.disks.conftest import disk_api  # noqa: F401 (used by chart_applied)
from stook_agent.api import ClusterNetwork, NicInventory, NodeNetwork, UplinkConfig
from stook_agent.resources import NODE_LABEL, resource_of
from support.apiserver import KubeCluster

NODE_NETWORK = resource_of(NodeNetwork.KIND)
NIC_INVENTORY = resource_of(NicInventory.KIND)
CLUSTER_NETWORK = resource_of(ClusterNetwork.KIND)
UPLINK_CONFIG = resource_of(UplinkConfig.KIND)


def per_node(kind: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": NODE_NETWORK.api_version,
        "kind": kind,
        "metadata": {"name": node, "labels": {NODE_LABEL: node}},
        "spec": {"nodeName": node},
    }


def test_only_a_node_writes_its_node_network_and_nic_inventory(
    chart_applied: k8s.ApiClient,  # noqa: F811
    cluster: KubeCluster,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    a, b = f"net-a-{suffix}", f"net-b-{suffix}"

    def as_node(node: str) -> Client:
        path = cluster.node_kubeconfig(node)
        return Client(config.new_client_from_config(config_file=str(path)))

    as_a, as_b = as_node(a), as_node(b)
    for resource, kind in ((NODE_NETWORK, "NodeNetwork"), (NIC_INVENTORY, "NicInventory")):
        denied_by_policy(lambda r=resource, k=kind: as_a.create(r, per_node(k, b)))
        as_b.create(resource, per_node(kind, b))
        as_a.create(resource, per_node(kind, a))
    status = {"networks": [{"clusterNetwork": "vms", "ready": True}]}
    denied_by_policy(lambda: as_a.patch_status(NODE_NETWORK, b, status))
    as_b.patch_status(NODE_NETWORK, b, status)
    nics = {"nics": [{"name": "ens5", "link": "up", "usedBy": "vms"}]}
    denied_by_policy(lambda: as_a.patch_status(NIC_INVENTORY, b, nics))
    as_b.patch_status(NIC_INVENTORY, b, nics)
    # No spec writes, relabelling or deletes (RBAC), and no writes of the cluster's wishes.
    denied(lambda: as_b.patch(NODE_NETWORK, b, {"metadata": {"labels": {NODE_LABEL: a}}}))
    denied(lambda: as_b.delete(NIC_INVENTORY, b))
    wish = {
        "apiVersion": CLUSTER_NETWORK.api_version,
        "kind": "ClusterNetwork",
        "metadata": {"name": f"n{suffix}"},
    }
    denied(lambda: as_b.create(CLUSTER_NETWORK, wish))
    denied(lambda: as_b.patch_status(UPLINK_CONFIG, "any", {"readyNodes": 1}))
    listed = as_b.custom.list_cluster_custom_object(
        UPLINK_CONFIG.group, UPLINK_CONFIG.version, UPLINK_CONFIG.plural
    )
    assert "items" in listed

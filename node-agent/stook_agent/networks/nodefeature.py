"""The node side's wiring (docs/networks.md): this node's NodeNetwork controller, woken by any
change of an UplinkConfig or a ClusterNetwork (informers, read-only for nodes), and the
management-change controller, woken by ManagementChanges."""

from __future__ import annotations

from dataclasses import dataclass

from stook_agent.networks.mgmt import ManagementChangeReconciler, MgmtSettings
from stook_agent.networks.node import NodeHost, NodeNetworkReconciler
from stook_agent.networks.resources import (
    CLUSTER_NETWORK,
    MANAGEMENT_CHANGE,
    NIC_INVENTORY,
    NODE_NETWORK,
    UPLINK_CONFIG,
)
from stook_agent.resources import node_selector
from stook_agent.runtime.controller import Controller, ControllerOptions
from stook_agent.runtime.kinds import NODE
from stook_agent.runtime.manager import Manager
from stook_agent.runtime.watched import Watched
from stook_agent.settings import AgentSettings


@dataclass(frozen=True)
class NodeNetworks:
    """What the feature built (tests reach in here)."""

    networks: Controller
    changes: Controller


def setup(
    manager: Manager, settings: AgentSettings, host: NodeHost | None = None,
    mgmt: MgmtSettings | None = None,
) -> NodeNetworks:  # fmt: skip
    node = settings.node
    client = manager.client(NODE_NETWORK)
    configs = Watched("uplinkconfigs", manager.client(UPLINK_CONFIG), manager.metrics)
    networks = Watched("clusternetworks", manager.client(CLUSTER_NETWORK), manager.metrics)
    changes = Watched("managementchanges", manager.client(MANAGEMENT_CHANGE), manager.metrics)
    options = ControllerOptions(
        label_selector=node_selector(node),
        workers=1,
        resync_period=settings.resync_period,
        seed_keys=(node,),
        stuck_after=settings.stuck_after,
    )
    reconciler = NodeNetworkReconciler(
        client, manager.client(NIC_INVENTORY), manager.client(NODE), node,
        configs.objects, networks.objects, host,
    )  # fmt: skip
    network_controller = Controller(
        "nodenetwork", client, reconciler, manager.metrics, manager.recorder, options
    )
    change_controller = Controller(
        "managementchange",
        client,
        ManagementChangeReconciler(client, node, changes.objects, mgmt or MgmtSettings()),
        manager.metrics,
        manager.recorder,
        options,
    )
    for watched in (configs, networks):
        watched.wakes(network_controller, node)
    changes.wakes(change_controller, node)
    for runnable in (configs, networks, changes, network_controller, change_controller):
        manager.add(runnable)
    return NodeNetworks(network_controller, change_controller)

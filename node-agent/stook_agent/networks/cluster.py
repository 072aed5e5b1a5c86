"""The network cluster controller (leader only, the cluster credential; docs/networks.md): keeps
a Multus NetworkAttachmentDefinition per VMNetwork, each ClusterNetwork's VLAN IDs and MTU for
the node side, the ``network.stook.io/<cn>`` node labels, UplinkConfig conflicts as conditions,
and rolls ManagementChanges out one node at a time.

Four controllers (ClusterNetworks, VMNetworks, UplinkConfigs, ManagementChanges) and informers on
what they derive from (Nodes, NodeNetworks, NicInventories, NADs, KubeVirt VMs), started and
stopped together; a change of one kind re-queues the objects that derive from it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from stook_agent.api.network import MANAGEMENT
from stook_agent.networks.cluster_reconcile import (
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
    VM_NETWORK_FINALIZER,
    VM_NETWORK_LABEL,
)
from stook_agent.runtime.client import Object, ResourceClient
from stook_agent.runtime.controller import Controller, ControllerOptions
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.informer import Informer
from stook_agent.runtime.kinds import NODE
from stook_agent.runtime.manager import Manager
from stook_agent.runtime.metrics import Metrics
from stook_agent.runtime.resource import Resource
from stook_agent.settings import AgentSettings
from stook_agent.vms.kubevirt import VIRTUAL_MACHINE


@dataclass(frozen=True)
class Clients:
    """One client per resource the controller touches (the cluster credential)."""

    networks: ResourceClient
    configs: ResourceClient
    vm_networks: ResourceClient
    changes: ResourceClient
    node_networks: ResourceClient
    inventories: ResourceClient
    nodes: ResourceClient
    nads: ResourceClient
    vms: ResourceClient

    @classmethod
    def using(cls, client: Callable[[Resource], ResourceClient]) -> Clients:
        kinds = (CLUSTER_NETWORK, UPLINK_CONFIG, VM_NETWORK, MANAGEMENT_CHANGE, NODE_NETWORK,
                 NIC_INVENTORY, NODE, NAD, VIRTUAL_MACHINE)  # fmt: skip
        return cls(*(client(kind) for kind in kinds))


def _labels_changed(old: Object | None, new: Object | None) -> bool:
    if old is None or new is None:
        return True
    return bool(old["metadata"].get("labels") != new["metadata"].get("labels"))


def _status_moved(old: Object | None, new: Object | None, *fields: str) -> bool:
    """Whether any of the status *fields* differ (a new or deleted object: yes)."""
    if old is None or new is None:
        return True
    before, after = old.get("status") or {}, new.get("status") or {}
    return any(before.get(f) != after.get(f) for f in fields)


def _vm_network_refs(vm: Object | None) -> set[str]:
    """The NADs (namespace/name) a KubeVirt VM's template attaches to."""
    if vm is None:
        return set()
    namespace = vm["metadata"].get("namespace") or ""
    template = ((vm.get("spec") or {}).get("template") or {}).get("spec") or {}
    refs = set()
    for network in template.get("networks") or []:
        ref = str((network.get("multus") or {}).get("networkName") or "")
        if ref:
            refs.add(ref if "/" in ref else f"{namespace}/{ref}")
    return refs


class NetworkCluster:
    """A cluster controller (a Runnable that needs the lease)."""

    name = "networks"
    needs_leader = True

    def __init__(
        self,
        clients: Clients,
        metrics: Metrics,
        recorder: EventRecorder | None = None,
        options: ControllerOptions | None = None,
        leading: Callable[[], bool] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        base = replace(options or ControllerOptions(), needs_leader=True)
        informers: dict[str, Informer] = {}
        for kind, client, handler in (
            ("node_networks", clients.node_networks, self._on_report),
            ("inventories", clients.inventories, self._on_inventory),
            ("nodes", clients.nodes, self._on_node),
            ("nads", clients.nads, self._on_nad),
            ("vms", clients.vms, self._on_vm),
        ):
            informers[kind] = Informer(f"{self.name}-{kind}", client, handler, metrics)
        self.informers = informers
        # The controllers' own informers are the view's caches of their kinds (set below).
        self.view = View(
            node_networks=informers["node_networks"],
            inventories=informers["inventories"],
            nodes=informers["nodes"],
            nads=informers["nads"],
            vms=informers["vms"],
        )
        view = self.view
        self.networks = Controller(
            "clusternetworks", clients.networks,
            ClusterNetworkReconciler(clients.networks, clients.nodes, view, recorder, leading),
            metrics, recorder, replace(base, seed_keys=(MANAGEMENT,), workers=1),
        )  # fmt: skip
        self.vm_networks = Controller(
            "vmnetworks", clients.vm_networks,
            VMNetworkReconciler(clients.vm_networks, clients.nads, view, recorder, leading),
            metrics, recorder, replace(base, finalizer=VM_NETWORK_FINALIZER),
        )  # fmt: skip
        self.configs = Controller(
            "uplinkconfigs", clients.configs,
            UplinkConfigReconciler(clients.configs, view, recorder, leading),
            metrics, recorder, replace(base, workers=1),
        )  # fmt: skip
        self.changes = Controller(
            "managementchanges", clients.changes,
            RolloutReconciler(clients.changes, view, recorder, leading, clock),
            metrics, recorder, replace(base, workers=1),
        )  # fmt: skip
        self.controllers = {"networks": self.networks, "vm_networks": self.vm_networks,
                            "configs": self.configs, "changes": self.changes}  # fmt: skip
        for kind, controller in self.controllers.items():
            view.primaries[kind] = controller.informer
            view.requeue[kind] = controller.queue.add
        self._threads: list[threading.Thread] = []
        self._stopped = False

    # -- what re-queues what ---------------------------------------------------------------

    def _on_report(self, key: str, old: Object | None, new: Object | None) -> None:
        # Not on vmAddresses: the VM IP publisher's writes concern no network.
        if _status_moved(old, new, "management", "networks"):
            self.view.enqueue_all("networks", "configs", "changes")

    def _on_inventory(self, key: str, old: Object | None, new: Object | None) -> None:
        if _status_moved(old, new, "nics"):
            self.view.enqueue_all("configs")

    def _on_node(self, key: str, old: Object | None, new: Object | None) -> None:
        if _labels_changed(old, new):
            self.view.enqueue_all("networks", "configs")

    def _on_nad(self, key: str, old: Object | None, new: Object | None) -> None:
        meta = (new or old or {}).get("metadata") or {}
        if VM_NETWORK_LABEL in (meta.get("labels") or {}):
            self.view.enqueue("vm_networks", [key])  # drift (or a delete) is put right

    def _on_vm(self, key: str, old: Object | None, new: Object | None) -> None:
        self.view.enqueue("vm_networks", sorted(_vm_network_refs(old) | _vm_network_refs(new)))

    # -- Runnable --------------------------------------------------------------------------

    def start(self) -> None:
        for kind, informer in self.informers.items():
            thread = threading.Thread(target=informer.run, name=f"networks-{kind}", daemon=True)
            thread.start()
            self._threads.append(thread)
        for controller in self.controllers.values():
            controller.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        self._stopped = True
        for controller in self.controllers.values():
            controller.stop(drain_timeout)
        for informer in self.informers.values():
            informer.stop()
        for thread in self._threads:
            thread.join(timeout=max(0.1, drain_timeout))

    def ready(self) -> bool:
        """Ready once the network kinds are listed (a cluster without KubeVirt or Multus must
        not make the agent unready)."""
        return all(c.ready() for c in self.controllers.values())

    def synced(self) -> bool:
        required = ("node_networks", "inventories", "nodes", "nads")
        return self.ready() and all(self.informers[k].synced.is_set() for k in required)

    def healthy(self) -> bool:
        threads = self._stopped or all(t.is_alive() for t in self._threads)
        return threads and all(c.healthy() for c in self.controllers.values())


def setup(manager: Manager, settings: AgentSettings) -> NetworkCluster | None:
    """The network cluster controller, or None where this process runs no cluster controllers."""
    if manager.cluster_api is None:
        return None
    controller = NetworkCluster(
        Clients.using(lambda resource: manager.client(resource, cluster=True)),
        manager.metrics,
        manager.cluster_recorder(),
        ControllerOptions(
            workers=settings.workers,
            resync_period=settings.resync_period,
            stuck_after=settings.stuck_after,
        ),
        leading=manager.is_leader,
    )
    manager.add(controller)
    return controller

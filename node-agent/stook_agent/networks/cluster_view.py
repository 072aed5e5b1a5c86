"""The network cluster controller's caches, read as typed objects, and its hands on the queues
(a change of one kind re-queues the objects of other kinds that derive from it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from stook_agent.api.meta import InvalidObjectError, StookObject
from stook_agent.api.network import ClusterNetwork, UplinkConfig, VMNetwork
from stook_agent.api.networkchange import ManagementChange
from stook_agent.api.networknode import NicInventory, NodeNetwork
from stook_agent.runtime.client import Object
from stook_agent.runtime.informer import Informer

log = logging.getLogger(__name__)
T = TypeVar("T", bound=StookObject)


def cached(informer: Informer) -> list[Object]:
    """Every object in *informer*'s cache now."""
    return [obj for key in list(informer.keys()) if (obj := informer.get(key)) is not None]


def parsed(model: type[T], informer: Informer) -> list[T]:
    """Every cached object of *informer* that fits *model*, by key (one that does not is
    left out and logged: its own reconcile reports it)."""
    found: list[T] = []
    for obj in cached(informer):
        try:
            found.append(model.parse(obj))
        except InvalidObjectError as error:
            log.debug("skipping: %s", error)
    return found


@dataclass
class View:
    """What every network reconciler reads (the informers' caches) and whom it re-queues."""

    node_networks: Informer
    inventories: Informer
    nodes: Informer
    nads: Informer
    vms: Informer
    primaries: dict[str, Informer] = field(default_factory=dict)
    """The controllers' own informers by kind (networks, configs, vm_networks, changes), set
    once the controllers exist."""
    requeue: dict[str, Callable[[str], None]] = field(default_factory=dict)
    """By kind, as primaries: add a key to that controller's queue."""

    @property
    def networks(self) -> Informer:
        return self.primaries["networks"]

    @property
    def configs(self) -> Informer:
        return self.primaries["configs"]

    @property
    def vm_networks(self) -> Informer:
        return self.primaries["vm_networks"]

    @property
    def changes(self) -> Informer:
        return self.primaries["changes"]

    # -- typed reads -----------------------------------------------------------------------

    def network(self, name: str) -> ClusterNetwork | None:
        obj = self.networks.get(name)
        try:
            return ClusterNetwork.parse(obj) if obj is not None else None
        except InvalidObjectError:
            return None

    def all_configs(self) -> list[UplinkConfig]:
        return parsed(UplinkConfig, self.configs)

    def all_vm_networks(self) -> list[VMNetwork]:
        return parsed(VMNetwork, self.vm_networks)

    def all_changes(self) -> list[ManagementChange]:
        return parsed(ManagementChange, self.changes)

    def reports(self) -> list[NodeNetwork]:
        return parsed(NodeNetwork, self.node_networks)

    def node_reports(self) -> dict[str, NodeNetwork]:
        return {nn.spec.node_name: nn for nn in parsed(NodeNetwork, self.node_networks)}

    def nic_inventories(self) -> dict[str, NicInventory]:
        return {i.spec.node_name: i for i in parsed(NicInventory, self.inventories)}

    def node_labels(self) -> dict[str, dict[str, str]]:
        return {
            str(node["metadata"]["name"]): dict(node["metadata"].get("labels") or {})
            for node in cached(self.nodes)
        }

    def all_vms(self) -> list[Object]:
        return cached(self.vms)

    # -- re-queueing -----------------------------------------------------------------------

    def enqueue(self, kind: str, keys: Iterable[str]) -> None:
        add = self.requeue.get(kind)
        if add is not None:
            for key in keys:
                add(key)

    def enqueue_all(self, *kinds: str) -> None:
        for kind in kinds:
            self.enqueue(kind, list(self.primaries[kind].keys()))

"""The network cluster controller's caches, read as typed objects, and its hands on the queues
(a change of one kind re-queues the objects of other kinds that derive from it)."""

from __future__ import annotations

import logging
import threading
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


class Parsed:
    """Typed objects of informers' caches, each parsed once per resourceVersion (a reconcile
    reads every object of a kind: at a thousand objects, parsing them all each time would be
    most of its work). The models are shared: read them, copy before changing one. Objects
    that do not fit their model are left out and logged: their own reconcile reports them."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, str], tuple[str | None, StookObject | None]] = {}
        self._lock = threading.Lock()

    def all(self, model: type[T], informer: Informer) -> list[T]:
        found: list[T] = []
        seen: set[tuple[int, str]] = set()
        for obj in cached(informer):
            meta = obj.get("metadata") or {}
            memo_key = (id(informer), f"{meta.get('namespace')}/{meta.get('name')}")
            version = meta.get("resourceVersion")
            seen.add(memo_key)
            with self._lock:
                hit = self._memo.get(memo_key)
            if hit is None or hit[0] != version or version is None:
                try:
                    hit = (version, model.parse(obj))
                except InvalidObjectError as error:
                    log.debug("skipping: %s", error)
                    hit = (version, None)
                with self._lock:
                    self._memo[memo_key] = hit
            if isinstance(hit[1], model):
                found.append(hit[1])
        with self._lock:  # forget deleted objects
            for memo_key in [k for k in self._memo if k[0] == id(informer) and k not in seen]:
                del self._memo[memo_key]
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
    parsed: Parsed = field(default_factory=Parsed)

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

    def synced(self, nads: bool = True) -> bool:
        """Every cache a decision reads has been listed: the network kinds, the nodes and their
        reports, and (*nads*) Multus's NADs. KubeVirt's VMs aside: a cluster may have no
        KubeVirt, and only ``usedBy`` reads them; management changes need no Multus either."""
        informers = [*self.primaries.values(), self.node_networks, self.inventories, self.nodes]
        if nads:
            informers.append(self.nads)
        return len(self.primaries) == 4 and all(i.synced.is_set() for i in informers)

    # -- typed reads -----------------------------------------------------------------------

    def network(self, name: str) -> ClusterNetwork | None:
        obj = self.networks.get(name)
        try:
            return ClusterNetwork.parse(obj) if obj is not None else None
        except InvalidObjectError:
            return None

    def all_configs(self) -> list[UplinkConfig]:
        return self.parsed.all(UplinkConfig, self.configs)

    def all_vm_networks(self) -> list[VMNetwork]:
        return self.parsed.all(VMNetwork, self.vm_networks)

    def all_changes(self) -> list[ManagementChange]:
        return self.parsed.all(ManagementChange, self.changes)

    def reports(self) -> list[NodeNetwork]:
        return self.parsed.all(NodeNetwork, self.node_networks)

    def node_reports(self) -> dict[str, NodeNetwork]:
        return {nn.spec.node_name: nn for nn in self.parsed.all(NodeNetwork, self.node_networks)}

    def nic_inventories(self) -> dict[str, NicInventory]:
        return {i.spec.node_name: i for i in self.parsed.all(NicInventory, self.inventories)}

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

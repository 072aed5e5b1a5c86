"""What the rollout reads about the cluster, and the only writes it makes outside its Upgrade:
cordon/uncordon of a Node and evictions (or, with drain.force, deletes) of its pods.

A cordon made by an upgrade carries the annotation ``stook.io/cordoned-by: <upgrade>``: only
such a cordon is ever undone by it (a node the operator cordoned stays cordoned), and an abort or
a delete finds every node it cordoned from the Nodes themselves, even if its status was lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stook_agent.api import NodeStatus, NodeUpgrade
from stook_agent.resources import NODE_STATUS
from stook_agent.runtime.client import Object, ResourceClient, is_status
from stook_agent.runtime.kinds import EVICTION_SUBRESOURCE, NODE, POD
from stook_agent.runtime.resource import Resource
from stook_agent.upgrades.resources import NODE_UPGRADE

CORDONED_BY = "stook.io/cordoned-by"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
PDB = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", namespaced=True)
LONGHORN_VOLUME = Resource("longhorn.io", "v1beta2", "volumes", "Volume", namespaced=True)
LONGHORN_NAMESPACE = "longhorn-system"
MIRROR = "kubernetes.io/config.mirror"


def parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class NodeFacts:
    """One node as the pre-checks and the health gate see it."""

    name: str
    labels: dict[str, str]
    control_plane: bool
    ready: bool
    unschedulable: bool
    cordoned_by: str | None
    heartbeat: datetime | None  # the agent's (NodeStatus)
    report: NodeUpgrade | None  # the agent's NodeUpgrade


def _ready(node: Object) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


@dataclass(frozen=True)
class Blocked:
    pod: str
    budgets: list[str]  # namespace/name of the PodDisruptionBudgets that select it


class Cluster:
    """The rollout's view of and hands on the cluster (through the cluster side's client)."""

    def __init__(
        self,
        nodes: ResourceClient,
        pods: ResourceClient,
        budgets: ResourceClient,
        statuses: ResourceClient,
        reports: ResourceClient,
        volumes: ResourceClient,
    ) -> None:
        self.nodes = nodes
        self.pods = pods
        self.budgets = budgets
        self.statuses = statuses
        self.reports = reports
        self.volumes = volumes

    @classmethod
    def of(cls, client: Callable[[Resource], ResourceClient]) -> Cluster:
        """From a factory of clients (the manager's, on the cluster side's credential)."""
        kinds = (NODE, POD, PDB, NODE_STATUS, NODE_UPGRADE, LONGHORN_VOLUME)
        return cls(*(client(kind) for kind in kinds))

    # -- reading ---------------------------------------------------------------------------

    def facts(self) -> dict[str, NodeFacts]:
        nodes, _ = self.nodes.list_objects()
        statuses = {o["metadata"]["name"]: o for o in self.statuses.list_objects()[0]}
        reports = {o["metadata"]["name"]: o for o in self.reports.list_objects()[0]}
        found: dict[str, NodeFacts] = {}
        for node in nodes:
            meta = node["metadata"]
            name = str(meta["name"])
            labels = dict(meta.get("labels") or {})
            status = statuses.get(name)
            heartbeat = None
            if status is not None:
                heartbeat = parse_time(NodeStatus.parse(status).status.last_heartbeat)
            report = NodeUpgrade.parse(reports[name]) if name in reports else None
            found[name] = NodeFacts(
                name=name,
                labels=labels,
                control_plane=any(label in labels for label in CONTROL_PLANE_LABELS),
                ready=_ready(node),
                unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
                cordoned_by=(meta.get("annotations") or {}).get(CORDONED_BY),
                heartbeat=heartbeat,
                report=report,
            )
        return found

    def unhealthy_volumes(self) -> list[str] | None:
        """Longhorn volumes that are not healthy; None when Longhorn is not installed."""
        try:
            volumes, _ = self.volumes.list_objects(namespace=LONGHORN_NAMESPACE)
        except Exception as error:
            if is_status(error, 404):
                return None
            raise
        bad = []
        for volume in volumes:
            status = volume.get("status") or {}
            robustness = status.get("robustness")
            if status.get("state") == "attached" and robustness != "healthy":
                bad.append(f"{volume['metadata']['name']} ({robustness or 'unknown'})")
        return sorted(bad)

    # -- cordon ----------------------------------------------------------------------------

    def cordon(self, node: str, upgrade: str) -> None:
        self.nodes.patch(
            node,
            {"metadata": {"annotations": {CORDONED_BY: upgrade}}, "spec": {"unschedulable": True}},
        )

    def uncordon(self, node: str, upgrade: str) -> bool:
        """Undo *upgrade*'s cordon of *node* (only its own); True if there was one."""
        try:
            current = self.nodes.get(node)
        except Exception as error:
            if is_status(error, 404):
                return False
            raise
        annotations = current["metadata"].get("annotations") or {}
        if annotations.get(CORDONED_BY) != upgrade:
            return False
        self.nodes.patch(
            node,
            {
                "metadata": {
                    "annotations": {CORDONED_BY: None},
                    "resourceVersion": current["metadata"]["resourceVersion"],
                },
                "spec": {"unschedulable": None},
            },
        )
        return True

    def cordoned_by(self, upgrade: str) -> list[str]:
        nodes, _ = self.nodes.list_objects()
        return sorted(
            str(n["metadata"]["name"])
            for n in nodes
            if (n["metadata"].get("annotations") or {}).get(CORDONED_BY) == upgrade
        )

    # -- drain -----------------------------------------------------------------------------

    def pods_to_drain(self, node: str) -> list[Object]:
        """The node's pods a drain must move: not DaemonSet pods, not static (mirror) pods,
        not finished ones. Only the node's pods are listed (the API server filters them):
        a cluster of thousands of pods is not read for each look at one node's drain."""
        pods, _ = self.pods.list_objects(field_selector=f"spec.nodeName={node}")
        keep = []
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") != node:
                continue  # never another node's pod, whatever answered the list
            meta = pod["metadata"]
            if MIRROR in (meta.get("annotations") or {}):
                continue
            if any(o.get("kind") == "DaemonSet" for o in meta.get("ownerReferences") or []):
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            keep.append(pod)
        return keep

    def evict(self, pods: Iterable[Object], force: bool) -> list[Blocked]:
        """Evict (or, *force*, delete) every pod not already terminating; those a
        PodDisruptionBudget holds back, with the budgets that select them."""
        blocked = []
        budgets: list[Object] | None = None
        for pod in pods:
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            key = f"{meta['namespace']}/{meta['name']}"
            try:
                if force:
                    self.pods.delete(key)
                else:
                    self.pods.create_subresource(key, EVICTION_SUBRESOURCE, _eviction(meta))
            except Exception as error:
                if is_status(error, 404):
                    continue
                if not is_status(error, 429):
                    raise
                if budgets is None:
                    budgets = self.budgets.list_objects()[0]
                blocked.append(Blocked(key, _selecting(budgets, pod)))
        return blocked


def _eviction(meta: dict[str, Any]) -> Object:
    return {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }


def _selecting(budgets: list[Object], pod: Object) -> list[str]:
    labels = pod["metadata"].get("labels") or {}
    names = []
    for budget in budgets:
        meta = budget["metadata"]
        if meta.get("namespace") != pod["metadata"].get("namespace"):
            continue
        selector = (budget.get("spec") or {}).get("selector") or {}
        wanted = selector.get("matchLabels") or {}
        if wanted and all(labels.get(k) == v for k, v in wanted.items()):
            names.append(f"{meta['namespace']}/{meta['name']}")
    return sorted(names)

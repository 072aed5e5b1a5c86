"""Keeps this node's NodeStatus object current: agent version, booted OS slot, heartbeat.

The object is named after the node and labelled with it; the agent creates it when missing and
refreshes its status every heartbeat interval (or sooner when its spec or labels change).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from stook_agent import __version__
from stook_agent.api.meta import NODE_LABEL, ObjectMeta, set_condition
from stook_agent.api.nodestatus import NodeStatus, NodeStatusSpec, NodeStatusStatus
from stook_agent.bootstatus import BootStatus, read_boot_status
from stook_agent.resources import NODE_STATUS, node_selector
from stook_agent.runtime.client import Object, ResourceClient, is_status
from stook_agent.runtime.controller import Controller, ControllerOptions, Reconciler, Result
from stook_agent.runtime.manager import Manager
from stook_agent.settings import AgentSettings


class NodeStatusReconciler(Reconciler):
    def __init__(
        self,
        client: ResourceClient,
        node: str,
        heartbeat: float = 30.0,
        boot_status: Callable[[], BootStatus] = read_boot_status,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.node = node
        self.heartbeat = heartbeat
        self._boot_status = boot_status
        self._clock = clock

    def reconcile(self, obj: Object) -> Result:
        now = self._clock()
        current = NodeStatus.parse(obj)
        old = current.status
        boot = self._boot_status()
        generation = current.metadata.generation
        wanted = NodeStatusStatus(
            agent_version=__version__,
            booted_slot=boot.slot,
            os_version=boot.version,
            observed_generation=generation,
            last_heartbeat=old.last_heartbeat,
            conditions=old.conditions,
        )
        age = _age(old.last_heartbeat, now)
        if wanted == old and age is not None and age < self.heartbeat:
            return Result(requeue_after=self.heartbeat - age)  # nothing new: no write
        stamp = now.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        wanted.last_heartbeat = stamp
        wanted.conditions = set_condition(
            old.conditions,
            "AgentReady",
            "True",
            "Heartbeat",
            f"stook-agent {__version__} is running on {self.node}",
            generation,
            now=stamp,
        )
        self.client.patch_status(self.node, wanted.to_dict())
        return Result(requeue_after=self.heartbeat)

    def absent(self, key: str) -> Result:
        if key != self.node:
            return Result()
        body = NodeStatus(
            metadata=ObjectMeta(name=self.node, labels={NODE_LABEL: self.node}),
            spec=NodeStatusSpec(node_name=self.node),
        ).body()
        try:
            self.client.create(body)
        except Exception as error:
            if not is_status(error, 409):  # 409: it exists, our cache is behind
                raise
        return Result(requeue_after=0.5)  # the watch brings it in; the status follows


def _age(stamp: str | None, now: datetime) -> float | None:
    if stamp is None:
        return None
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - then).total_seconds()


def setup(manager: Manager, settings: AgentSettings) -> Controller:
    """The node-status feature: one controller keeping this node's NodeStatus current."""
    statuses = manager.client(NODE_STATUS)
    controller = Controller(
        "nodestatus",
        statuses,
        NodeStatusReconciler(statuses, settings.node, settings.heartbeat),
        manager.metrics,
        manager.recorder,
        ControllerOptions(
            label_selector=node_selector(settings.node),
            workers=1,
            resync_period=settings.resync_period,
            seed_keys=(settings.node,),
            stuck_after=settings.stuck_after,
        ),
    )
    manager.add(controller)
    return controller

"""The upgrades feature's wiring: the node side on every node (its NodeUpgrade), the rollout
controller on the cluster side (leader only, its own credential, a finalizer on Upgrades)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.controller import Controller, ControllerOptions
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.manager import Manager
from stook_agent.runtime.metrics import Metrics
from stook_agent.runtime.resource import Resource
from stook_agent.settings import AgentSettings
from stook_agent.upgrades.cluster import Cluster
from stook_agent.upgrades.imagecheck import image_problem
from stook_agent.upgrades.metrics import UpgradeMetrics
from stook_agent.upgrades.nodefeature import NodeUpgrades, NodeUpgradeSettings
from stook_agent.upgrades.resources import FINALIZER, NODE_UPGRADE, OS_VERSION, UPGRADE
from stook_agent.upgrades.rollout import UpgradeReconciler


@dataclass(frozen=True)
class Upgrades:
    node: NodeUpgrades
    rollout: Controller | None  # None without the cluster side's credential


def rollout_controller(
    client: Callable[[Resource], ResourceClient],
    metrics: Metrics,
    recorder: EventRecorder | None,
    resync_period: float = 60.0,
    stuck_after: float = 300.0,
    ca_file: str | None = None,
) -> Controller:
    """The rollout controller over clients from *client* (the cluster side's credential);
    its Image pre-check trusts *ca_file* (the agent's --upgrade-ca-file) as the nodes do."""
    upgrades = client(UPGRADE)
    reconciler = UpgradeReconciler(
        upgrades,
        client(OS_VERSION),
        Cluster.of(client),
        UpgradeMetrics(metrics.registry),
        recorder,
        image_check=functools.partial(image_problem, ca_file=ca_file),
    )
    controller = Controller(
        "upgrade-rollout",
        upgrades,
        reconciler,
        metrics,
        recorder,
        ControllerOptions(
            finalizer=FINALIZER,
            workers=1,  # one rollout step at a time, cluster-wide
            resync_period=resync_period,
            stuck_after=stuck_after,
            needs_leader=True,
        ),
    )
    informer = controller.informer
    reconciler.all_upgrades = lambda: [
        obj for key in list(informer.keys()) if (obj := informer.get(key)) is not None
    ]
    return controller


def setup(manager: Manager, settings: AgentSettings) -> Upgrades:
    node = NodeUpgrades(
        manager.client(NODE_UPGRADE),
        manager.client(UPGRADE),
        NodeUpgradeSettings(
            settings.node,
            resync_period=settings.resync_period,
            stuck_after=settings.stuck_after,
            ca_file=settings.upgrade_ca_file,
            downloads=settings.upgrade_downloads,
        ),
        manager.metrics,
        manager.recorder,
    )
    manager.add(node)
    rollout = None
    if manager.cluster_api is not None:
        rollout = rollout_controller(
            lambda resource: manager.client(resource, cluster=True),
            manager.metrics,
            manager.cluster_recorder(),
            stuck_after=settings.stuck_after,
            ca_file=settings.upgrade_ca_file,
        )
        manager.add(rollout)
    return Upgrades(node, rollout)

"""The node side's wiring: a controller of this node's NodeUpgrade, woken by every change of an
Upgrade (an informer of Upgrades, read-only for nodes), and the worker it owns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stook_agent.resources import node_selector
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.controller import Controller, ControllerOptions
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.metrics import Metrics
from stook_agent.runtime.watched import Watched
from stook_agent.upgrades.download import DOWNLOADS, Downloader
from stook_agent.upgrades.node import NodeSide, NodeUpgradeReconciler
from stook_agent.upgrades.osactions import OsActions


@dataclass(frozen=True)
class NodeUpgradeSettings:
    node: str
    downloads: Path = DOWNLOADS
    actions: OsActions = field(default_factory=OsActions)
    ca_file: str | None = None  # CA bundle for HTTPS images (None: the system's)
    resync_period: float = 300.0
    stuck_after: float = 300.0


class NodeUpgrades:
    """The node side as one unit: start, stop (the worker too), health."""

    name = "nodeupgrade"
    needs_leader = False

    def __init__(
        self,
        client: ResourceClient,
        upgrades: ResourceClient,
        settings: NodeUpgradeSettings,
        metrics: Metrics,
        recorder: EventRecorder | None,
        side: NodeSide | None = None,
    ) -> None:
        """*client* addresses NodeUpgrades, *upgrades* Upgrades (both as this node)."""
        self.requests = Watched("upgrade-requests", upgrades, metrics)
        self.reconciler = NodeUpgradeReconciler(
            client,
            settings.node,
            self.requests.objects,
            side
            or NodeSide(Downloader(settings.downloads, ca_file=settings.ca_file), settings.actions),
            recorder,
            synced=self.requests.informer.synced.is_set,
        )
        self.controller = Controller(
            "nodeupgrade",
            client,
            self.reconciler,
            metrics,
            recorder,
            ControllerOptions(
                label_selector=node_selector(settings.node),
                workers=1,
                resync_period=settings.resync_period,
                seed_keys=(settings.node,),
                stuck_after=settings.stuck_after,
            ),
        )
        self.requests.wakes(self.controller, settings.node)
        self.reconciler.wake = lambda: self.controller.queue.add(settings.node)

    def start(self) -> None:
        self.requests.start()
        self.controller.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        self.controller.stop(drain_timeout)
        self.reconciler.stop_worker()
        self.requests.stop(drain_timeout)

    def healthy(self) -> bool:
        return self.controller.healthy() and self.requests.healthy()

    def ready(self) -> bool:
        return self.controller.ready() and self.requests.ready()

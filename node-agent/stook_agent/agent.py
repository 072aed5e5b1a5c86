"""The node agent: its controllers, the health/metrics server, and graceful shutdown."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client as k8s

from stook_agent import __version__
from stook_agent.blockdevice import BlockDeviceReconciler, DiskDiscovery, Provisioner
from stook_agent.disks.filters import DEFAULT_EXCLUDE, DiskFilter
from stook_agent.disks.inventory import Inventory
from stook_agent.disks.longhorn import NAMESPACE, LonghornNode, LonghornProvisioner
from stook_agent.disks.mounts import MountPlan
from stook_agent.disks.passthrough import PassthroughProvisioner
from stook_agent.disks.scanner import Scanner
from stook_agent.disks.triggers import RescanTrigger, ScanLoop, UdevTrigger
from stook_agent.nodestatus import NodeStatusReconciler
from stook_agent.resources import BLOCK_DEVICE, NODE_STATUS, node_selector
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.controller import Controller, ControllerOptions
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.health import HealthServer
from stook_agent.runtime.metrics import Metrics

log = logging.getLogger(__name__)
COMPONENT = "stook-agent"


@dataclass(frozen=True)
class DiskSettings:
    host_root: Path = Path("/")  # the host's root as the agent sees it (/host in the pod)
    disks_dir: str = "/var/lib/stook/disks"  # on the host
    exclude: str = DEFAULT_EXCLUDE  # kernel names never treated as disks
    allow: str | None = None  # only kernel names / loop backing files matching this
    rescan_period: float = 60.0
    poll: float = 5.0  # re-check of Longhorn eviction and PV claims
    longhorn_namespace: str = NAMESPACE
    udev: bool = True  # False: no udev monitor (rescans on SIGHUP / trigger / period only)


@dataclass(frozen=True)
class AgentSettings:
    node: str
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9808
    resync_period: float = 300.0
    heartbeat: float = 30.0
    workers: int = 2
    drain_timeout: float = 20.0
    disks: DiskSettings = field(default_factory=DiskSettings)


class Agent:
    def __init__(self, api: k8s.ApiClient, settings: AgentSettings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.metrics.info.labels(__version__, settings.node).set(1)
        recorder = EventRecorder(api, COMPONENT, settings.node)
        selector = node_selector(settings.node)
        block_devices = ResourceClient(api, BLOCK_DEVICE)
        node_status = ResourceClient(api, NODE_STATUS)
        disks = settings.disks
        self.inventory = Inventory()
        provisioners: dict[str, Provisioner] = {
            "longhorn": LonghornProvisioner(
                LonghornNode(api, settings.node, disks.longhorn_namespace),
                MountPlan(disks.host_root, disks.disks_dir),
                disks.poll,
            ),
            "passthrough": PassthroughProvisioner(api, settings.node, disks.poll),
        }
        block_controller = Controller(
            "blockdevice",
            block_devices,
            BlockDeviceReconciler(block_devices, self.inventory, provisioners, recorder),
            self.metrics,
            recorder,
            ControllerOptions(
                label_selector=selector,
                workers=settings.workers,
                resync_period=settings.resync_period,
            ),
        )
        self.discovery = DiskDiscovery(
            block_devices,
            Scanner(settings.node, DiskFilter(disks.exclude, disks.allow)),
            self.inventory,
            block_controller.informer.keys,
            block_controller.queue.add,
        )
        self.scan_loop = ScanLoop(self.discovery.scan, disks.rescan_period)
        self.rescan = RescanTrigger()
        self.triggers: list[RescanTrigger | UdevTrigger] = [self.rescan]
        if disks.udev:
            self.triggers.append(UdevTrigger())
        self.controllers = [
            block_controller,
            Controller(
                "nodestatus",
                node_status,
                NodeStatusReconciler(node_status, settings.node, settings.heartbeat),
                self.metrics,
                recorder,
                ControllerOptions(
                    label_selector=selector,
                    workers=1,
                    resync_period=settings.resync_period,
                    seed_keys=(settings.node,),
                ),
            ),
        ]
        self.health = HealthServer(
            self.metrics.registry,
            healthy=lambda: self.scan_loop.alive() and all(c.healthy() for c in self.controllers),
            ready=lambda: all(c.ready() for c in self.controllers),
            host=settings.metrics_host,
            port=settings.metrics_port,
        )

    def run(self, stop: threading.Event) -> None:
        """Run until *stop* is set (SIGTERM), then drain reconciles in flight and return."""
        self.health.start()
        for controller in self.controllers:
            controller.start()
        for trigger in self.triggers:
            trigger.start(self.scan_loop.wake)
        self.scan_loop.start()
        log.info(
            "stook-agent %s running for node %s (metrics on :%d)",
            __version__, self.settings.node, self.health.port,
        )  # fmt: skip
        stop.wait()
        log.info(
            "stopping: finishing reconciles in flight (up to %.0f s)", self.settings.drain_timeout
        )
        for trigger in self.triggers:
            trigger.stop()
        self.scan_loop.stop()
        for controller in self.controllers:
            controller.stop(self.settings.drain_timeout)
        self.health.stop()
        log.info("stopped")

"""The node agent: its controllers, the health/metrics server, and graceful shutdown."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from kubernetes import client as k8s

from stook_agent import __version__
from stook_agent.blockdevice import BlockDeviceAcknowledger
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
class AgentSettings:
    node: str
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9808
    resync_period: float = 300.0
    heartbeat: float = 30.0
    workers: int = 2
    drain_timeout: float = 20.0


class Agent:
    def __init__(self, api: k8s.ApiClient, settings: AgentSettings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.metrics.info.labels(__version__, settings.node).set(1)
        recorder = EventRecorder(api, COMPONENT, settings.node)
        selector = node_selector(settings.node)
        block_devices = ResourceClient(api, BLOCK_DEVICE)
        node_status = ResourceClient(api, NODE_STATUS)
        self.controllers = [
            Controller(
                "blockdevice",
                block_devices,
                BlockDeviceAcknowledger(block_devices),
                self.metrics,
                recorder,
                ControllerOptions(
                    label_selector=selector,
                    workers=settings.workers,
                    resync_period=settings.resync_period,
                ),
            ),
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
            healthy=lambda: all(c.healthy() for c in self.controllers),
            ready=lambda: all(c.ready() for c in self.controllers),
            host=settings.metrics_host,
            port=settings.metrics_port,
        )

    def run(self, stop: threading.Event) -> None:
        """Run until *stop* is set (SIGTERM), then drain reconciles in flight and return."""
        self.health.start()
        for controller in self.controllers:
            controller.start()
        log.info(
            "stook-agent %s running for node %s (metrics on :%d)",
            __version__, self.settings.node, self.health.port,
        )  # fmt: skip
        stop.wait()
        log.info(
            "stopping: finishing reconciles in flight (up to %.0f s)", self.settings.drain_timeout
        )
        for controller in self.controllers:
            controller.stop(self.settings.drain_timeout)
        self.health.stop()
        log.info("stopped")

"""The node agent: a manager with every feature set up on it.

Each feature (a package or module with ``setup(manager, settings)``) adds its runnables:
disks (BlockDevice controller, discovery, triggers), node status, OS upgrades (the node's
NodeUpgrade; the rollout is a cluster controller, ``needs_leader``); network controllers join
the same way.
"""

from __future__ import annotations

import logging
import threading

from kubernetes import client as k8s

from stook_agent import __version__, nodestatus, vms
from stook_agent.disks import setup as disks
from stook_agent.networks import cluster as network_cluster
from stook_agent.networks import nodefeature as node_networks
from stook_agent.networks import vmaddresses
from stook_agent.networks.mgmt import MgmtSettings, api_endpoint
from stook_agent.runtime.leader import LeaseSettings
from stook_agent.runtime.manager import Manager, ManagerSettings
from stook_agent.settings import AgentSettings, DiskSettings
from stook_agent.upgrades import setup as upgrades

__all__ = ["COMPONENT", "Agent", "AgentSettings", "DiskSettings"]

log = logging.getLogger(__name__)
COMPONENT = "stook-agent"


class Agent:
    def __init__(
        self,
        api: k8s.ApiClient,
        settings: AgentSettings,
        cluster_api: k8s.ApiClient | None = None,
        lease: LeaseSettings | None = None,
    ) -> None:
        """*cluster_api*: the cluster controllers' own credential (none: they do not run)."""
        self.settings = settings
        self.manager = Manager(
            api,
            ManagerSettings(
                component=COMPONENT,
                instance=settings.node,
                metrics_host=settings.metrics_host,
                metrics_port=settings.metrics_port,
                drain_timeout=settings.drain_timeout,
                api_timeout=settings.api_timeout,
                lease=lease,
            ),
            cluster_api,
        )
        self.manager.metrics.info.labels(__version__, settings.node).set(1)
        self.disks = disks.setup(self.manager, settings)
        self.node_status = nodestatus.setup(self.manager, settings)
        self.vms = vms.setup(self.manager, settings)  # a cluster controller
        self.upgrades = upgrades.setup(self.manager, settings)
        self.network_cluster = network_cluster.setup(self.manager, settings)  # cluster controller
        self.vm_addresses = vmaddresses.setup(self.manager, settings)
        self.node_networks = node_networks.setup(
            self.manager, settings, mgmt=MgmtSettings(api_server=api_endpoint(api))
        )

    def run(self, stop: threading.Event) -> int:
        """Run until *stop* is set (SIGTERM); 0, or 1 when the cluster side lost its Lease."""
        log.info(
            "stook-agent %s running for node %s (health and metrics on %s:%d)",
            __version__, self.settings.node, self.settings.metrics_host, self.manager.health.port,
        )  # fmt: skip
        code = self.manager.run(stop)
        log.info("stopped")
        return code

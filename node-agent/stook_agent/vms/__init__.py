"""VMs as Kubernetes resources: the VirtualServer cluster controller over KubeVirt and CDI
(docs/vms.md). ``setup(manager, settings)`` adds it to the agent's manager; it runs only in a
process with the cluster side's credential, while that process holds the Lease."""

from __future__ import annotations

from stook_agent.runtime.controller import ControllerOptions
from stook_agent.runtime.manager import Manager
from stook_agent.settings import AgentSettings
from stook_agent.vms.controller import Clients, VirtualServerController


def setup(manager: Manager, settings: AgentSettings) -> VirtualServerController | None:
    """The VirtualServer controller, or None where this process runs no cluster controllers."""
    if manager.cluster_api is None:
        return None
    controller = VirtualServerController(
        Clients.using(lambda resource: manager.client(resource, cluster=True)),
        manager.metrics,
        manager.cluster_recorder(),
        ControllerOptions(
            workers=settings.workers,
            resync_period=settings.resync_period,
            stuck_after=settings.stuck_after,
            needs_leader=True,
        ),
        leading=manager.is_leader,
    )
    manager.add(controller)
    return controller

"""The disks feature's wiring: the BlockDevice controller, discovery, its scan loop, triggers."""

from __future__ import annotations

from dataclasses import dataclass

from stook_agent.blockdevice import BlockDeviceReconciler, DiskDiscovery, Provisioner
from stook_agent.disks.filters import DiskFilter
from stook_agent.disks.inventory import Inventory
from stook_agent.disks.longhorn import LONGHORN_NODE, LonghornNode, LonghornProvisioner
from stook_agent.disks.mounts import MountPlan
from stook_agent.disks.passthrough import PassthroughProvisioner
from stook_agent.disks.scanner import Scanner
from stook_agent.disks.triggers import RescanTrigger, ScanLoop, UdevTrigger
from stook_agent.resources import BLOCK_DEVICE, node_selector
from stook_agent.runtime.controller import Controller, ControllerOptions
from stook_agent.runtime.kinds import PERSISTENT_VOLUME
from stook_agent.runtime.manager import Manager
from stook_agent.settings import AgentSettings


class Triggers:
    """What wakes the scan loop (udev, SIGHUP / explicit rescans), as one Runnable."""

    name = "disk-triggers"
    needs_leader = False

    def __init__(self, loop: ScanLoop, udev: bool) -> None:
        self.loop = loop
        self.rescan = RescanTrigger()
        self._triggers: list[RescanTrigger | UdevTrigger] = [self.rescan]
        if udev:
            self._triggers.append(UdevTrigger())

    def start(self) -> None:
        for trigger in self._triggers:
            trigger.start(self.loop.wake)

    def stop(self, drain_timeout: float) -> None:
        for trigger in self._triggers:
            trigger.stop()

    def healthy(self) -> bool:
        return True

    def ready(self) -> bool:
        return True


@dataclass(frozen=True)
class Disks:
    """What the feature built (the agent's SIGHUP, tests and benches reach in here)."""

    controller: Controller
    discovery: DiskDiscovery
    inventory: Inventory
    scan_loop: ScanLoop
    rescan: RescanTrigger


def setup(manager: Manager, settings: AgentSettings) -> Disks:
    disks = settings.disks
    devices = manager.client(BLOCK_DEVICE)
    inventory = Inventory()
    provisioners: dict[str, Provisioner] = {
        "longhorn": LonghornProvisioner(
            LonghornNode(manager.client(LONGHORN_NODE), settings.node, disks.longhorn_namespace),
            MountPlan(disks.host_root, disks.disks_dir),
            disks.poll,
        ),
        "passthrough": PassthroughProvisioner(
            manager.client(PERSISTENT_VOLUME), settings.node, disks.poll
        ),
    }
    controller = Controller(
        "blockdevice",
        devices,
        BlockDeviceReconciler(devices, inventory, provisioners, manager.recorder),
        manager.metrics,
        manager.recorder,
        ControllerOptions(
            label_selector=node_selector(settings.node),
            workers=settings.workers,
            resync_period=settings.resync_period,
            stuck_after=settings.stuck_after,
        ),
    )
    discovery = DiskDiscovery(
        devices,
        Scanner(settings.node, DiskFilter(disks.exclude, disks.allow)),
        inventory,
        controller.informer.keys,
        controller.queue.add,
    )
    scan_loop = ScanLoop(discovery.scan, disks.rescan_period)
    # Objects of disks that changed while the API server was away get written at once.
    controller.when_recovered(lambda: scan_loop.wake("API server reachable again"))
    triggers = Triggers(scan_loop, disks.udev)
    for runnable in (controller, scan_loop, triggers):
        manager.add(runnable)
    return Disks(controller, discovery, inventory, scan_loop, triggers.rescan)

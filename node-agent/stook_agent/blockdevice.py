"""The BlockDevice controller: discovery creates one object per disk, the reconciler keeps its
status true and carries out ``spec.provision`` (docs/disks.md).

Discovery (``DiskDiscovery.scan``) runs at start, on every trigger and periodically: it scans the
node's disks, stores the scan in the shared ``Inventory``, creates the objects of new disks and
queues every object whose disk changed. The reconciler reads the disk from the inventory (never
from an event), so it is level-triggered like the rest of the runtime. Objects are never
deleted by the agent: a vanished disk's object turns Inactive and comes back Active when the
disk reappears at any path (its name comes from the disk's identity, not its path).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from stook_agent.api.blockdevice import (
    BlockDevice,
    BlockDeviceSpec,
    BlockDeviceStatus,
    Phase,
    Provision,
)
from stook_agent.api.meta import ObjectMeta, find_condition, set_condition
from stook_agent.disks.inventory import Inventory
from stook_agent.disks.outcome import Outcome, Status
from stook_agent.disks.scanner import Scanner
from stook_agent.disks.status import device_status, merge_patch
from stook_agent.resources import NODE_LABEL
from stook_agent.runtime.client import Object, ResourceClient, is_status
from stook_agent.runtime.controller import Reconciler, Result
from stook_agent.runtime.events import EventRecorder
from stook_core.hardware import Disk, probe_disk

log = logging.getLogger(__name__)

NONE: Provision = "none"
NOT_FOUND = "DiskNotFound"


class Provisioner(Protocol):
    def apply(self, name: str, disk: Disk | None, spec: BlockDeviceSpec) -> Outcome: ...

    def release(self, name: str, disk: Disk | None) -> Outcome: ...


class DiskDiscovery:
    """Scan -> inventory -> create missing objects -> queue the changed ones."""

    def __init__(
        self,
        client: ResourceClient,
        scanner: Scanner,
        inventory: Inventory,
        known: Callable[[], list[str]],
        enqueue: Callable[[str], None],
    ) -> None:
        self.client = client
        self.scanner = scanner
        self.inventory = inventory
        self.known = known
        self.enqueue = enqueue
        self.scans = 0  # completed scans (tests and the bench wait for the next one)
        self._done = threading.Condition()

    def wait_for_scan(self, after: int, timeout: float) -> bool:
        """Block until more than *after* scans completed (False on timeout)."""
        with self._done:
            return self._done.wait_for(lambda: self.scans > after, timeout)

    def scan(self, why: str = "") -> None:
        found = self.scanner.scan()
        changed = self.inventory.replace(found)
        known = set(self.known())
        node = self.scanner.node
        for name, item in sorted(found.items()):
            if name in known:
                continue
            device = BlockDevice(
                metadata=ObjectMeta(name=name, labels={NODE_LABEL: node}),
                spec=BlockDeviceSpec(node_name=node, dev_path=item.disk.path),
            )
            try:
                self.client.create(device.body())
                log.info("new disk %s (%s): BlockDevice %s", item.disk.path, why, name)
            except Exception as error:
                if not is_status(error, 409):  # 409: it exists, our cache is behind
                    raise
        for name in sorted(changed):
            self.enqueue(name)
        with self._done:
            self.scans += 1
            self._done.notify_all()


def _fresh(scanned: Disk) -> Disk | None:
    """The disk probed now under its scanned kernel name, if it is still the same disk."""
    try:
        disk = probe_disk(scanned.name)
    except (FileNotFoundError, OSError):
        return None
    fields = ("wwn", "serial", "backing_file", "bus_path", "model", "size")
    same = all(getattr(disk, f) == getattr(scanned, f) for f in fields)
    return disk if same else None  # another disk took the name: the next scan sorts it out


class BlockDeviceReconciler(Reconciler):
    def __init__(
        self,
        client: ResourceClient,
        inventory: Inventory,
        provisioners: dict[str, Provisioner],
        recorder: EventRecorder | None = None,
    ) -> None:
        self.client = client
        self.inventory = inventory
        self.provisioners = provisioners
        self.recorder = recorder

    def reconcile(self, obj: Object) -> Result:
        if not self.inventory.scanned:
            return Result(requeue_after=0.5)  # nothing is missing before the first scan
        device = BlockDevice.parse(obj)
        name, generation = device.metadata.name, device.metadata.generation
        old = device.status
        found = self.inventory.get(name)
        disk = _fresh(found.disk) if found else None  # never act on an old scan
        status = old.model_copy(deep=True)
        status.state = "Active" if disk else "Inactive"
        if found is not None and disk is not None:
            status.device_status = device_status(disk, found.identity)

        phase, outcome, provisioned_as = self._provision(name, disk, device.spec, old)
        status.provision_phase = phase
        status.provisioned_as = provisioned_as
        conditions = old.conditions
        for type_, (state, reason, message) in sorted(outcome.conditions.items()):
            conditions = set_condition(conditions, type_, state, reason, message, generation)
        ready: Status = "True" if outcome.done and disk is not None else "False"
        status.conditions = set_condition(
            conditions, "Ready", ready, outcome.reason, outcome.message, generation
        )
        patch = merge_patch(old.to_dict(), status.to_dict())
        if patch is not None:
            self.client.patch_status(name, patch)
        self._record(obj, old, outcome, phase)
        return Result(requeue_after=outcome.requeue_after)

    def _provision(
        self, name: str, disk: Disk | None, spec: BlockDeviceSpec, old: BlockDeviceStatus
    ) -> tuple[Phase, Outcome, Provision]:
        desired = spec.provision
        current = old.provisioned_as or NONE
        if current not in (NONE, desired):
            released = self.provisioners[current].release(name, disk)
            if not released.done:
                return "Unprovisioning", released, current
            current = NONE
            if desired == NONE:
                return "Unprovisioned", self._idle(disk, released), NONE
        if desired == NONE:
            return "Unprovisioned", self._idle(disk, None), NONE
        outcome = self.provisioners[desired].apply(name, disk, spec)
        if outcome.done:
            return "Provisioned", outcome, desired
        if current == desired:  # provisioned before, e.g. the disk vanished: still ours
            return "Provisioned", outcome, desired
        return ("Failed" if outcome.refused else "Provisioning"), outcome, NONE

    @staticmethod
    def _idle(disk: Disk | None, released: Outcome | None) -> Outcome:
        extra = released.conditions if released else {}
        if disk is None:
            return Outcome(
                True, NOT_FOUND, "the disk is not attached to this node", conditions=extra
            )
        message = released.message if released else "not provisioned; free for use"
        return Outcome(True, "NotProvisioned", message, conditions=extra)

    def _record(self, obj: Object, old: BlockDeviceStatus, outcome: Outcome, phase: Phase) -> None:
        if self.recorder is None:
            return
        before = find_condition(old.conditions, "Ready")
        same = before is not None and (before.reason, before.message) == (
            outcome.reason,
            outcome.message,
        )
        if outcome.refused and not same:
            self.recorder.record(obj, "Warning", outcome.reason, outcome.message)
        elif old.provision_phase not in (None, phase) and phase in (
            "Provisioned",
            "Unprovisioned",
        ):  # a change of phase, not a brand-new object
            self.recorder.record(obj, "Normal", phase, outcome.message)

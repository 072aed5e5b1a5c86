"""Longhorn provisioning: a formatted, mounted disk in the node's ``nodes.longhorn.io``.

Respects Longhorn's webhook rules (reference.md section 3): a disk leaves ``spec.disks`` only
with ``allowScheduling: false`` and nothing scheduled on it; ``evictionRequested`` only with
``allowScheduling: false``; no two disks with one path.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s

from stook_agent.disks.commands import CommandError
from stook_agent.disks.mounts import MountPlan, filesystem_uuid, format_ext4
from stook_agent.disks.outcome import Condition, Outcome, refuse
from stook_agent.resources import Resource
from stook_agent.runtime.client import Object, ResourceClient, is_status
from stook_core.diskid import filesystem_label
from stook_core.hardware import Disk

LONGHORN_NODE = Resource("longhorn.io", "v1beta2", "nodes", "Node", namespaced=True)
NAMESPACE = "longhorn-system"


class LonghornNode:
    """This node's ``nodes.longhorn.io`` object."""

    def __init__(self, api: k8s.ApiClient, node: str, namespace: str = NAMESPACE) -> None:
        self.client = ResourceClient(api, LONGHORN_NODE)
        self.key = f"{namespace}/{node}"

    def get(self) -> Object | None:
        try:
            return self.client.get(self.key)
        except Exception as error:
            if is_status(error, 404):
                return None
            raise

    def patch_disk(self, name: str, entry: dict[str, Any] | None) -> None:
        self.client.patch(self.key, {"spec": {"disks": {name: entry}}})


def _scheduled(node: Object, name: str) -> tuple[int, list[str]]:
    disk_status = ((node.get("status") or {}).get("diskStatus") or {}).get(name) or {}
    replicas = sorted(disk_status.get("scheduledReplica") or {})
    return int(disk_status.get("storageScheduled") or 0), replicas


class LonghornProvisioner:
    def __init__(self, longhorn: LonghornNode, plan: MountPlan, eviction_poll: float) -> None:
        self.longhorn = longhorn
        self.plan = plan
        self.poll = eviction_poll

    def apply(self, name: str, disk: Disk | None, spec: Object) -> Outcome:
        node = self.longhorn.get()
        if node is None:
            return refuse(
                "LonghornNodeMissing",
                f"no Longhorn node object {self.longhorn.key}: is Longhorn installed and "
                "running on this node?",
                retry=30,
            )
        if disk is None:
            return refuse("DiskNotFound", "the disk is not attached to this node")
        label = filesystem_label(name)
        ours = disk.fstype == "ext4" and disk.fs_label == label
        if not ours:
            formatted = self._format(disk, label, bool(spec.get("forceFormat")))
            if formatted is not None:
                return formatted
        try:
            uuid = filesystem_uuid(disk.path)
            self.plan.mount(name, disk.path)
            self.plan.persist(name, uuid)
        except CommandError as error:
            return refuse("MountFailed", f"could not mount {disk.path}: {error}", retry=30)
        path = self.plan.host_path(name)
        clash = [
            other
            for other, entry in ((node.get("spec") or {}).get("disks") or {}).items()
            if other != name and (entry or {}).get("path") == path
        ]
        if clash:
            return refuse(
                "LonghornPathConflict", f"Longhorn disk {clash[0]} already uses path {path}"
            )
        wanted = {
            "diskType": "filesystem",
            "path": path,
            "allowScheduling": True,
            "evictionRequested": False,
            "storageReserved": 0,
            "tags": sorted(set(spec.get("tags") or [])),
        }
        current = ((node.get("spec") or {}).get("disks") or {}).get(name) or {}
        if any(current.get(k) != v for k, v in wanted.items()):
            self.longhorn.patch_disk(name, wanted)
        mounted: Condition = ("True", "Mounted", f"{disk.path} mounted at {path}")
        added: Condition = ("True", "Added", f"in {self.longhorn.key} spec.disks as {name}")
        return Outcome(
            True,
            "Provisioned",
            f"Longhorn disk at {path}",
            conditions={"Mounted": mounted, "AddedToLonghorn": added},
        )

    def _format(self, disk: Disk, label: str, force: bool) -> Outcome | None:
        busy = disk.in_use
        if busy:
            return refuse(
                "DiskInUse",
                f"{disk.path} is in use ({'; '.join(busy)}); Stook never formats a disk in use",
            )
        data = disk.holds_data
        if data and not force:
            return refuse(
                "DiskHasData",
                f"{disk.path} holds {', '.join(data)}; set spec.forceFormat: true to erase it "
                "and use it for Longhorn",
            )
        try:
            format_ext4(disk.path, label)
        except CommandError as error:
            return refuse("FormatFailed", f"could not format {disk.path}: {error}", retry=30)
        return None

    def release(self, name: str, disk: Disk | None) -> Outcome:
        node = self.longhorn.get()
        entry = (((node or {}).get("spec") or {}).get("disks") or {}).get(name)
        if node is not None and entry is not None:
            if entry.get("allowScheduling") or not entry.get("evictionRequested"):
                self.longhorn.patch_disk(
                    name, {"allowScheduling": False, "evictionRequested": True}
                )
            scheduled, replicas = _scheduled(node, name)
            if scheduled or replicas:
                shown = ", ".join(replicas[:5]) + (" ..." if len(replicas) > 5 else "")
                return Outcome(
                    False,
                    "WaitingForEviction",
                    f"Longhorn is evicting {len(replicas)} replica(s) ({shown or 'none listed'}; "
                    f"{scheduled} bytes scheduled); the disk leaves Longhorn when none are left",
                    requeue_after=self.poll,
                    conditions={
                        "AddedToLonghorn": ("True", "Evicting", "scheduling off, eviction asked")
                    },
                )
            self.longhorn.patch_disk(name, None)
        try:
            # A disk that vanished leaves a broken mount behind: detach it lazily.
            self.plan.unmount(name, lazy=disk is None)
        except CommandError as error:
            return refuse("UnmountFailed", f"could not unmount: {error}", retry=self.poll)
        self.plan.forget(name)
        return Outcome(
            True,
            "Unprovisioned",
            "removed from Longhorn and unmounted",
            conditions={
                "Mounted": ("False", "Unmounted", "not mounted by Stook"),
                "AddedToLonghorn": ("False", "Removed", "not in Longhorn's spec.disks"),
            },
        )

"""Longhorn provisioning: a formatted, mounted disk in the node's ``nodes.longhorn.io``.

Respects Longhorn's webhook rules (reference.md section 3): a disk leaves ``spec.disks`` only
with ``allowScheduling: false`` and nothing scheduled on it; ``evictionRequested`` only with
``allowScheduling: false``; no two disks with one path.
"""

from __future__ import annotations

from stook_agent.api.blockdevice import BlockDeviceSpec
from stook_agent.api.longhorn import LonghornDisk, LonghornNodeObject
from stook_agent.disks.commands import CommandError
from stook_agent.disks.mounts import MountPlan, filesystem_uuid, format_ext4
from stook_agent.disks.outcome import Condition, Outcome, refuse
from stook_agent.runtime.client import Object, ResourceClient, is_status
from stook_agent.runtime.resource import Resource
from stook_core.diskid import filesystem_label
from stook_core.hardware import Disk

LONGHORN_NODE = Resource("longhorn.io", "v1beta2", "nodes", "Node", namespaced=True)
NAMESPACE = "longhorn-system"


class LonghornNode:
    """This node's ``nodes.longhorn.io`` object."""

    def __init__(self, client: ResourceClient, node: str, namespace: str = NAMESPACE) -> None:
        self.client = client
        self.key = f"{namespace}/{node}"

    def get(self) -> LonghornNodeObject | None:
        try:
            return LonghornNodeObject.model_validate(self.client.get(self.key))
        except Exception as error:
            if is_status(error, 404):
                return None
            raise

    def patch_disk(self, name: str, entry: Object | None) -> None:
        """Merge-patch ``spec.disks[name]`` (None: remove the entry)."""
        self.client.patch(self.key, {"spec": {"disks": {name: entry}}})


class LonghornProvisioner:
    def __init__(self, longhorn: LonghornNode, plan: MountPlan, eviction_poll: float) -> None:
        self.longhorn = longhorn
        self.plan = plan
        self.poll = eviction_poll

    def apply(self, name: str, disk: Disk | None, spec: BlockDeviceSpec) -> Outcome:
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
            formatted = self._format(disk, label, spec.force_format)
            if formatted is not None:
                return formatted
        try:
            uuid = filesystem_uuid(disk.path)
            self.plan.mount(name, disk.path)
            self.plan.persist(name, uuid)
        except CommandError as error:
            return refuse("MountFailed", f"could not mount {disk.path}: {error}", retry=30)
        path = self.plan.host_path(name)
        clash = node.uses_path(path, but=name)
        if clash:
            return refuse("LonghornPathConflict", f"Longhorn disk {clash} already uses path {path}")
        wanted = LonghornDisk(
            path=path,
            allow_scheduling=True,
            eviction_requested=False,
            storage_reserved=0,
            tags=sorted(set(spec.tags)),
        )
        if node.spec.disks.get(name) != wanted:
            self.longhorn.patch_disk(name, wanted.model_dump(by_alias=True))
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
        entry = node.spec.disks.get(name) if node is not None else None
        if node is not None and entry is not None:
            if entry.allow_scheduling or not entry.eviction_requested:
                self.longhorn.patch_disk(
                    name, {"allowScheduling": False, "evictionRequested": True}
                )
            scheduled, replicas = node.scheduled(name)
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

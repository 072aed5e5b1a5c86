"""Passthrough: the whole disk as a local block PersistentVolume for VMs to claim.

The PV's path is a /dev/disk/by-id link (stable across reboots; ``wwn-`` preferred). A loop
device has none, so it is published at its /dev path: loop devices are excluded from discovery
by default and only test rigs include them. Going back to ``none`` deletes the PV only when no
claim holds it.
"""

from __future__ import annotations

from stook_agent.api.blockdevice import BlockDeviceSpec
from stook_agent.disks.outcome import Condition, Outcome, refuse
from stook_agent.resources import NODE_LABEL
from stook_agent.runtime.client import Object, ResourceClient, is_status
from stook_core.hardware import Disk

DEFAULT_STORAGE_CLASS = "stook-passthrough"
DEVICE_LABEL = "stook.io/blockdevice"


def stable_path(disk: Disk) -> str | None:
    links = sorted(
        disk.by_id, key=lambda link: (not link.rsplit("/", 1)[-1].startswith("wwn-"), link)
    )
    if links:
        return links[0]
    return disk.path if disk.kind == "loop" else None


class PassthroughProvisioner:
    def __init__(self, volumes: ResourceClient, node: str, poll: float) -> None:
        self.volumes = volumes  # PersistentVolumes
        self.node = node
        self.poll = poll

    def _get(self, name: str) -> Object | None:
        try:
            return self.volumes.get(name)
        except Exception as error:
            if is_status(error, 404):
                return None
            raise

    def apply(self, name: str, disk: Disk | None, spec: BlockDeviceSpec) -> Outcome:
        existing = self._get(name)
        published: Condition = ("True", "Created", f"PersistentVolume {name}")
        if existing is not None:
            return Outcome(True, "Provisioned", f"published as PersistentVolume {name}",
                           conditions={"Published": published})  # fmt: skip
        if disk is None:
            return refuse("DiskNotFound", "the disk is not attached to this node")
        busy = disk.in_use
        if busy:
            return refuse(
                "DiskInUse",
                f"{disk.path} is in use ({'; '.join(busy)}); unmount it before passthrough",
            )
        path = stable_path(disk)
        if path is None:
            return refuse(
                "NoStableDevicePath",
                f"{disk.path} has no /dev/disk/by-id link, so a PersistentVolume could point at "
                "another disk after a reboot; give the disk a serial or WWN",
            )
        storage_class = spec.provisioner.passthrough.storage_class_name or DEFAULT_STORAGE_CLASS
        body: Object = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": {NODE_LABEL: self.node, DEVICE_LABEL: name}},
            "spec": {
                "capacity": {"storage": str(disk.size)},
                "volumeMode": "Block",
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": storage_class,
                "local": {"path": path},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [self.node]}
                ]}]}},
            },
        }  # fmt: skip
        try:
            self.volumes.create(body)
        except Exception as error:
            if not is_status(error, 409):
                raise
        return Outcome(True, "Provisioned", f"published as PersistentVolume {name} ({path})",
                       conditions={"Published": published})  # fmt: skip

    def release(self, name: str, disk: Disk | None) -> Outcome:
        volume = self._get(name)
        if volume is not None and not volume["metadata"].get("deletionTimestamp"):
            claim = (volume.get("spec") or {}).get("claimRef")
            phase = (volume.get("status") or {}).get("phase")
            if claim is not None and phase != "Released":
                return refuse(
                    "PersistentVolumeBound",
                    f"PersistentVolume {name} is claimed by {claim.get('namespace')}/"
                    f"{claim.get('name')}; delete the claim (and the VM using it) first",
                    retry=self.poll,
                )
            # Only the version just checked: a claim binding meanwhile makes this fail (409).
            try:
                self.volumes.delete(name, resource_version=volume["metadata"]["resourceVersion"])
            except Exception as error:
                if is_status(error, 409):
                    return Outcome(False, "PersistentVolumeChanged", "retrying", requeue_after=0.5)
                if not is_status(error, 404):
                    raise
        gone: Condition = ("False", "Deleted", "no PersistentVolume")
        return Outcome(
            True, "Unprovisioned", "PersistentVolume deleted", conditions={"Published": gone}
        )

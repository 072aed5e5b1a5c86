"""Passthrough: the whole disk as a local block PersistentVolume for VMs to claim.

The PV's path is a /dev/disk/by-id link (stable across reboots; ``wwn-`` preferred). A loop
device has none, so it is published at its /dev path: loop devices are excluded from discovery
by default and only test rigs include them. Going back to ``none`` deletes the PV only when no
claim holds it.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s

from stook_agent.api.blockdevice import BlockDeviceSpec
from stook_agent.disks.outcome import Condition, Outcome, refuse
from stook_agent.resources import NODE_LABEL
from stook_agent.runtime.client import is_status
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
    def __init__(self, api: k8s.ApiClient, node: str, poll: float) -> None:
        self.core = k8s.CoreV1Api(api)
        self.node = node
        self.poll = poll

    def _get(self, name: str) -> Any | None:
        try:
            return self.core.read_persistent_volume(name)
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
        body: Any = {
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
            self.core.create_persistent_volume(body)
        except Exception as error:
            if not is_status(error, 409):
                raise
        return Outcome(True, "Provisioned", f"published as PersistentVolume {name} ({path})",
                       conditions={"Published": published})  # fmt: skip

    def release(self, name: str, disk: Disk | None) -> Outcome:
        volume = self._get(name)
        if volume is not None and volume.metadata.deletion_timestamp is None:
            claim = volume.spec.claim_ref
            phase = volume.status.phase if volume.status else None
            if claim is not None and phase != "Released":
                return refuse(
                    "PersistentVolumeBound",
                    f"PersistentVolume {name} is claimed by {claim.namespace}/{claim.name}; "
                    "delete the claim (and the VM using it) first",
                    retry=self.poll,
                )
            # Only the version just checked: a claim binding meanwhile makes this fail (409).
            options = k8s.V1DeleteOptions(
                preconditions=k8s.V1Preconditions(resource_version=volume.metadata.resource_version)
            )
            try:
                self.core.delete_persistent_volume(name, body=options)
            except Exception as error:
                if is_status(error, 409):
                    return Outcome(False, "PersistentVolumeChanged", "retrying", requeue_after=0.5)
                if not is_status(error, 404):
                    raise
        gone: Condition = ("False", "Deleted", "no PersistentVolume")
        return Outcome(
            True, "Unprovisioned", "PersistentVolume deleted", conditions={"Published": gone}
        )

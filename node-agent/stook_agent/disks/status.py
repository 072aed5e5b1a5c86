"""A BlockDevice's ``status.deviceStatus`` from a probed disk, and merge-patch helpers."""

from __future__ import annotations

from typing import Any

from stook_core.diskid import Identity
from stook_core.hardware import Disk


def _drive_type(disk: Disk) -> str:
    if disk.bus == "nvme":
        return "NVMe"
    return "HDD" if disk.rotational else "SSD"


def _prune(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None and v != [] and v != ""}


def device_status(disk: Disk, identity: Identity) -> dict[str, Any]:
    mountpoint = next(iter(disk.mountpoints), None)
    partitions = [
        _prune({
            "number": p.number,
            "devPath": p.path,
            "size": p.size,
            "partLabel": p.label,
            "fsType": p.fstype,
            "fsLabel": p.fs_label,
            "mountPoint": next(iter(p.mountpoints), None),
        })
        for p in disk.partitions
    ]  # fmt: skip
    return _prune({
        "capacity": disk.size,
        "devPath": disk.path,
        "byIdPaths": disk.by_id,
        "fileSystem": _prune({
            "type": disk.fstype,
            "label": disk.fs_label,
            "mountPoint": mountpoint,
            "isReadOnly": disk.read_only,
        }),
        "partitions": partitions,
        "details": _prune({
            "deviceType": "disk",
            "driveType": _drive_type(disk),
            "bus": disk.bus,
            "busPath": disk.bus_path,
            "model": disk.model,
            "vendor": disk.vendor,
            "serialNumber": disk.serial,
            "wwn": disk.wwn,
            "uuid": disk.fs_uuid,
            "ptUUID": disk.pt_uuid,
            "label": disk.fs_label,
            "isRemovable": disk.removable,
            "rotational": disk.rotational,
            "identitySource": identity.source,
        }),
    })  # fmt: skip


def merge_patch(old: Any, new: Any) -> Any:
    """The JSON merge patch turning *old* into *new* (None: nothing to change)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None if old == new else new
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        else:
            change = merge_patch(old[key], value)
            if change is not None or (value is None and old[key] is not None):
                patch[key] = change
    return patch or None

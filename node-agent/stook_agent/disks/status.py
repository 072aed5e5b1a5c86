"""A BlockDevice's ``status.deviceStatus`` from a probed disk, and merge-patch helpers."""

from __future__ import annotations

from typing import Any

from stook_agent.api.blockdevice import (
    DeviceDetails,
    DeviceStatus,
    DriveType,
    FileSystemStatus,
    PartitionStatus,
    gib,
)
from stook_core.diskid import Identity
from stook_core.hardware import Disk


def _drive_type(disk: Disk) -> DriveType:
    if disk.bus == "nvme":
        return "NVMe"
    return "HDD" if disk.rotational else "SSD"


def _text(value: str | None) -> str | None:
    return value or None  # an empty udev property is no value


def device_status(disk: Disk, identity: Identity) -> DeviceStatus:
    partitions = [
        PartitionStatus(
            number=p.number,
            dev_path=p.path,
            size=p.size,
            part_label=_text(p.label),
            fs_type=_text(p.fstype),
            fs_label=_text(p.fs_label),
            mount_point=next(iter(p.mountpoints), None),
        )
        for p in disk.partitions
    ]
    file_system = FileSystemStatus(
        type=_text(disk.fstype),
        label=_text(disk.fs_label),
        mount_point=next(iter(disk.mountpoints), None),
        is_read_only=disk.read_only,
    )
    details = DeviceDetails(
        device_type="disk",
        drive_type=_drive_type(disk),
        bus=_text(disk.bus),
        bus_path=_text(disk.bus_path),
        model=_text(disk.model),
        vendor=_text(disk.vendor),
        serial_number=_text(disk.serial),
        wwn=_text(disk.wwn),
        uuid=_text(disk.fs_uuid),
        pt_uuid=_text(disk.pt_uuid),
        label=_text(disk.fs_label),
        is_removable=disk.removable,
        rotational=disk.rotational,
        identity_source=identity.source,
    )
    return DeviceStatus(
        capacity=disk.size,
        capacity_gi_b=gib(disk.size),
        dev_path=disk.path,
        by_id_paths=list(disk.by_id) or None,
        file_system=file_system,
        partitions=partitions or None,
        details=details,
    )


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

"""Which block devices are disks (stook_agent.disks.filters), over the Disk model."""

from __future__ import annotations

from typing import Any

from stook_agent.disks.filters import DiskFilter
from stook_core.hardware import Disk, Partition


def disk(name: str, **fields: Any) -> Disk:
    return Disk(name=name, path=f"/dev/{name}", size=fields.pop("size", 10**12), **fields)


def kept(*disks: Disk, **options: Any) -> list[str]:
    return [d.name for d in DiskFilter(**options).select(list(disks))[0]]


def test_plain_disks_are_kept_and_virtual_devices_are_not() -> None:
    devices = [disk(n) for n in ("sda", "nvme0n1", "loop0", "ram0", "zram0", "sr0", "dm-0")]
    assert kept(*devices) == ["sda", "nvme0n1"]


def test_the_os_disk_is_left_out_by_its_partition_labels() -> None:
    os_disk = disk(
        "sda", partitions=[Partition(number=3, path="/dev/sda3", size=1, label="STOOK_A")]
    )
    assert kept(os_disk, disk("sdb")) == ["sdb"]


def test_read_only_and_empty_devices_are_left_out() -> None:
    assert kept(disk("sda", read_only=True), disk("sdb", size=0), disk("sdc")) == ["sdc"]


def test_a_multipath_map_stands_for_its_member_paths() -> None:
    mpath = disk("dm-2", dm_uuid="mpath-3600a0b80001", slaves=["sdb", "sdc"])
    lvm = disk("dm-3", dm_uuid="LVM-abc")
    assert kept(disk("sda"), disk("sdb"), disk("sdc"), mpath, lvm) == ["sda", "dm-2"]


def test_loop_devices_can_be_included_and_narrowed_to_a_rig() -> None:
    mine = disk("loop1", backing_file="/tmp/rig/a.img")
    other = disk("loop2", backing_file="/var/other.img")
    assert kept(mine, other, disk("sda"), exclude=r"^ram", allow=r"^/tmp/rig/") == ["loop1"]

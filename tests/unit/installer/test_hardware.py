from __future__ import annotations

from pathlib import Path

import pytest

from stook_core import hardware
from stook_core.hardware import Disk, Machine, Nic, human_size, load_profile, probe
from stook_core.net.permaddr import parse_ethtool_permanent
from support.install_engine import PROFILES, profile

NAMES = ["one-disk", "os-and-data", "four-nics", "nvme-sata-mix", "no-usable-disk", "busy-disks"]


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_profile_loads(name: str) -> None:
    machine = load_profile(PROFILES / f"{name}.json")
    assert machine.disks and machine.nics and machine.description


def test_shipped_profiles_are_exactly_the_documented_ones() -> None:
    assert sorted(p.stem for p in PROFILES.glob("*.json")) == sorted(NAMES)


def test_old_install_is_recognised_by_its_labels() -> None:
    disks = {d.name: d for d in profile("os-and-data").disks}
    assert disks["sda"].has_stook_install
    assert not disks["sdb"].has_stook_install
    assert "holds a Stook install" in disks["sda"].summary()


@pytest.mark.parametrize(
    ("name", "number", "expected"),
    [("sda", 2, "/dev/sda2"), ("nvme0n1", 3, "/dev/nvme0n1p3"), ("loop7", 1, "/dev/loop7p1")],
)
def test_partition_paths(name: str, number: int, expected: str) -> None:
    disk = Disk(name=name, path=f"/dev/{name}", size=1)
    assert disk.partition_path(number) == expected
    assert disk.owns(expected)


def test_owns_only_its_own_partitions() -> None:
    sda = Disk(name="sda", path="/dev/sda", size=1, by_id=["/dev/disk/by-id/ata-X"])
    assert sda.owns("/dev/sda") and sda.owns("/dev/disk/by-id/ata-X")
    assert not sda.owns("/dev/sdaa") and not sda.owns("/dev/sdb1") and not sda.owns("/dev/sda1x")
    loop1 = Disk(name="loop1", path="/dev/loop1", size=1)
    assert not loop1.owns("/dev/loop10") and not loop1.owns("/dev/loop1p")


def test_human_size_reads_like_a_disk_label() -> None:
    assert human_size(480 * 10**9) == "480 GB"
    assert human_size(1920 * 10**9) == "1.92 TB"


def test_probe_reads_this_machine_without_root() -> None:
    machine = probe()
    assert isinstance(machine, Machine)
    assert machine.firmware in ("uefi", "bios")
    assert all(nic.name != "lo" for nic in machine.nics)


def test_virtio_serial_is_read_from_the_block_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # virtio-blk (QEMU `-device virtio-blk-pci,serial=...`): /sys/block/vdX/serial, no
    # device/serial and no ID_SERIAL_SHORT; a match spec {serial: ...} must still find it.
    sys = tmp_path / "vdz"
    (sys / "device").mkdir(parents=True)
    (sys / "size").write_text("2048\n")
    (sys / "serial").write_text("STOOK-OS\n")
    monkeypatch.setattr(hardware, "SYS_BLOCK", tmp_path)
    assert hardware.probe_disk("vdz", mounts={}).serial == "STOOK-OS"


def _fake_disk(root: Path, name: str, dev: str, partitions: dict[str, str]) -> None:
    """A sysfs block device (a test double of /sys/class/block) with *partitions* name -> dev."""
    sys = root / name
    (sys / "holders").mkdir(parents=True)
    (sys / "size").write_text("62500000\n")
    (sys / "dev").write_text(f"{dev}\n")
    for number, (part, part_dev) in enumerate(partitions.items(), 1):
        child = sys / part
        (child / "holders").mkdir(parents=True)
        (child / "partition").write_text(f"{number}\n")
        (child / "size").write_text("2048\n")
        (child / "dev").write_text(f"{part_dev}\n")


MOUNTINFO = (
    "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "30 22 259:7 / /run/live/medium ro,noatime shared:9 - iso9660 /dev/sdq1 ro\n"
    "31 22 0:45 /@home /home\\040dir rw shared:10 - btrfs /dev/sdq2 rw\n"
)


def test_read_mounts_keys_by_number_and_by_source(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTINFO)
    mounts = hardware.read_mounts(mountinfo)
    assert mounts["259:7"] == ["/run/live/medium"]
    # btrfs reports an anonymous device number: only the source names the partition.
    assert mounts["/dev/sdq2"] == ["/home dir"]


def test_read_swaps_lists_block_devices_only(tmp_path: Path) -> None:
    swaps = tmp_path / "swaps"
    swaps.write_text(
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        "/dev/sdq3                               partition\t8388604\t\t0\t\t-2\n"
        "/swapfile                               file\t\t1048572\t\t0\t\t-3\n"
    )
    assert hardware.read_swaps(swaps) == frozenset({"sdq3"})


def test_probe_disk_sees_the_live_medium_mounts_swap_and_holders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "block"
    _fake_disk(root, "sdq", "8:240", {"sdq1": "259:7", "sdq2": "8:242", "sdq3": "8:243"})
    (root / "sdq" / "sdq3" / "holders" / "dm-3").mkdir()
    _fake_disk(root, "sdr", "8:250", {})
    monkeypatch.setattr(hardware, "SYS_BLOCK", root)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTINFO)
    mounts = hardware.read_mounts(mountinfo)
    disk = hardware.probe_disk("sdq", mounts, frozenset({"sdq3"}))
    assert disk.live_medium
    assert disk.busy == "/dev/sdq is the live medium the installer booted from"
    assert disk.in_use == [
        "the live medium the installer booted from",
        "/dev/sdq1 mounted at /run/live/medium",
        "/dev/sdq2 mounted at /home dir",
        "/dev/sdq3 held by dm-3",
        "/dev/sdq3 is an active swap area",
    ]
    free = hardware.probe_disk("sdr", mounts, frozenset())
    assert not free.live_medium and free.in_use == [] and free.busy is None


def test_a_toram_live_system_still_knows_its_medium() -> None:
    # live-boot's toram copies the medium to RAM and unmounts it; the Stook ISO is still there.
    iso = Disk(name="sdz", path="/dev/sdz", size=10**9, fstype="iso9660", fs_label="STOOK_2026_1")
    other = Disk(name="sdy", path="/dev/sdy", size=10**9, fstype="iso9660", fs_label="DEBIAN")
    marked = hardware.mark_live_medium([iso, other], live=True)
    assert [d.live_medium for d in marked] == [True, False]
    assert hardware.mark_live_medium([iso], live=False) == [iso]


def test_booted_live_reads_the_kernel_command_line(tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("BOOT_IMAGE=/live/vmlinuz boot=live components quiet\n")
    assert hardware.booted_live(cmdline)
    cmdline.write_text("BOOT_IMAGE=/vmlinuz boot=stook root=UUID=x\n")
    assert not hardware.booted_live(cmdline)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("Permanent address: 3C:EC:EF:20:00:01\n", "3c:ec:ef:20:00:01"),
        ("Permanent address: 00:00:00:00:00:00\n", None),  # what virtual NICs report
        ("Cannot get permanent hardware address: Operation not supported\n", None),
    ],
)
def test_ethtool_permanent_address_output(output: str, expected: str | None) -> None:
    assert parse_ethtool_permanent(output) == expected


def test_identity_mac_is_the_permanent_one_when_reported() -> None:
    port = Nic(name="eno2", mac="3c:ec:ef:20:00:01", permanent_mac="3c:ec:ef:20:00:02")
    assert port.identity_mac == "3c:ec:ef:20:00:02"
    assert Nic(name="veth0", mac="0A:58:0A:00:00:05").identity_mac == "0a:58:0a:00:00:05"

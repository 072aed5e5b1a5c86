from __future__ import annotations

from pathlib import Path

import pytest

from stook_core import hardware
from stook_core.hardware import Disk, Machine, human_size, load_profile, probe
from support.install_engine import PROFILES, profile

NAMES = ["one-disk", "os-and-data", "four-nics", "nvme-sata-mix", "no-usable-disk"]


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_profile_loads(name: str) -> None:
    machine = load_profile(PROFILES / f"{name}.json")
    assert machine.disks and machine.nics and machine.description


def test_shipped_profiles_are_exactly_the_documented_five() -> None:
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

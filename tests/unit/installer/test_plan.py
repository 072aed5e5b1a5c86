from __future__ import annotations

from pathlib import Path

import pytest

from stook_core.layout import SLOT_SIZE
from stook_installer.engine import grub
from stook_installer.engine.actions import Run, WriteFiles
from stook_installer.engine.plan import (
    ArmBoot,
    InstallBootloader,
    PartitionDisk,
    PreflightFailed,
    WipeDisk,
    WriteState,
    build_plan,
)
from support.install_engine import TOKEN, make_config, profile

IMAGE = Path("/nonexistent/os.squashfs")


def test_create_plan_erases_os_and_data_disk_but_not_the_live_stick() -> None:
    plan = build_plan(make_config("create"), profile("os-and-data"), IMAGE)
    assert [d.path for d in plan.erased_disks] == ["/dev/sda", "/dev/sdb"]
    assert [s.name for s in plan.steps] == [
        "wipe-sda", "wipe-sdb", "partition-sda", "write-image", "format-stook-efi",
        "format-stook-state", "format-stook-data", "install-grub", "write-state", "arm-boot",
    ]  # fmt: skip
    wipe = plan.steps[0]
    assert isinstance(wipe, WipeDisk)
    assert Run(("wipefs", "--all", "--force", "/dev/sda5")) in wipe.actions()


def _esp_files(step: InstallBootloader | ArmBoot) -> dict[str, str]:
    """What a step stages for the ESP: ESP path -> content (the early.cfg stage excluded)."""
    files = [a.files for a in step.actions() if isinstance(a, WriteFiles)]
    return {f.path: f.content for group in files for f in group if f.path != "/early.cfg"}


def test_only_the_last_step_makes_the_disk_boot_a_slot() -> None:
    """GRUB goes on the disk with the "install incomplete" grub.cfg and no boot environment;
    the environment and the A/B grub.cfg come only in the last step, after the node's files,
    and grub.cfg after the environment (a power cut between them must not boot a slot)."""
    plan = build_plan(make_config("create"), profile("os-and-data"), IMAGE)
    bootloader = next(s for s in plan.steps if isinstance(s, InstallBootloader))
    assert _esp_files(bootloader) == {"/boot/grub/grub.cfg": grub.incomplete_cfg()}
    arm = plan.steps[-1]
    assert isinstance(arm, ArmBoot)
    assert [s.name for s in plan.steps].index("write-state") < len(plan.steps) - 1
    staged = _esp_files(arm)
    assert staged["/boot/grub/grub.cfg"] == grub.grub_cfg(arm.state_uuid)
    assert set(staged) - {"/boot/grub/grub.cfg"} == {f"/{p}" for p in grub.env_files("")}
    copies = [a.argv for a in arm.actions() if isinstance(a, Run) and "mcopy" in a.argv]
    assert [argv[-1] for argv in copies] == ["::/boot/grub/", "::/boot/grub/grub.cfg"]
    assert any("grubenv2.lock" in arg for arg in copies[0])


def test_separate_data_disk_gives_state_the_rest_of_the_os_disk() -> None:
    plan = build_plan(make_config("create"), profile("os-and-data"), IMAGE)
    table = next(s for s in plan.steps if isinstance(s, PartitionDisk)).table
    assert [(p.number, p.label, p.typecode) for p in table] == [
        (1, "BIOS_BOOT", "ef02"), (2, "STOOK_EFI", "ef00"), (3, "STOOK_A", "8300"),
        (4, "STOOK_B", "8300"), (5, "STOOK_STATE", "8300"),
    ]  # fmt: skip
    assert table[2].size == table[3].size == SLOT_SIZE and table[4].size is None


def test_shared_disk_gets_a_data_partition() -> None:
    config = make_config(data_disk=None, install_disk="/dev/sda", persistent_size="100Gi")
    plan = build_plan(config, profile("one-disk"), IMAGE)
    table = next(s for s in plan.steps if isinstance(s, PartitionDisk)).table
    assert (table[4].size, table[5].label, table[5].size) == (100 << 30, "STOOK_DATA", None)
    assert "format-stook-data" in [s.name for s in plan.steps]


def test_wipe_disks_are_erased_too() -> None:
    config = make_config(
        install_disk={"model": "Samsung SSD 980*"}, data_disk={"serial": "S64HNE0R100002"},
        wipe_disks=[{"serial": "WWZ1A001"}], management_interface={"nics": ["enp65s0f0"]},
    )  # fmt: skip
    plan = build_plan(config, profile("nvme-sata-mix"), IMAGE)
    assert [d.path for d in plan.erased_disks] == ["/dev/nvme0n1", "/dev/nvme1n1", "/dev/sda"]
    assert "/dev/sdb" not in "\n".join(plan.describe())


def test_describe_shows_every_command_and_file_but_no_secret() -> None:
    config = make_config("create")
    plan = build_plan(config, profile("os-and-data"), IMAGE)
    text = "\n".join(plan.describe())
    for needle in ("sgdisk --clear", "mkfs.ext4", "grub-mkimage -O x86_64-efi", "mcopy",
                   "/etc/rancher/rke2/config.yaml", "/etc/systemd/network/10-mgmt-bo.netdev",
                   "These disks will be erased"):  # fmt: skip
        assert needle in text
    assert TOKEN not in text
    assert config.install.password is not None
    assert config.install.password.get_secret_value() not in text


def test_state_files_do_carry_the_secrets_they_need() -> None:
    config = make_config("create")
    plan = build_plan(config, profile("os-and-data"), IMAGE)
    state = next(s for s in plan.steps if isinstance(s, WriteState))
    files = {f.path: f for f in state.files}
    assert f"token: {TOKEN}" in files["/etc/rancher/rke2/config.yaml"].content
    assert files["/etc/rancher/rke2/config.yaml"].mode == 0o600
    assert TOKEN not in files["/etc/stook/install-config.yaml"].content


def test_bad_machine_raises_preflight_failed_with_every_error() -> None:
    config = make_config(install_disk={"serial": "nope"}, management_interface={"nics": ["x9"]})
    with pytest.raises(PreflightFailed) as caught:
        build_plan(config, profile("os-and-data"), IMAGE)
    assert {p.path for p in caught.value.problems} == {
        "install.install_disk", "install.management_interface.nics[0]"
    }  # fmt: skip


def test_image_larger_than_a_slot_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "big.squashfs"
    with image.open("wb") as stream:
        stream.truncate(SLOT_SIZE + 1)
    with pytest.raises(PreflightFailed, match="larger than a slot"):
        build_plan(make_config("create"), profile("os-and-data"), image)

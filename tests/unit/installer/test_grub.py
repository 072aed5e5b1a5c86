from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from stook_core.boot import grubcfg, slots
from stook_core.boot.store import EnvStore
from stook_installer.engine import biosboot, grub
from support.tiers import require_commands


def test_grub_cfg_is_valid_grub_script(tmp_path: Path) -> None:
    require_commands("grub-script-check")
    cfg = tmp_path / "grub.cfg"
    cfg.write_text(grub.grub_cfg("0b9f2a52-6f3a-4e0e-9c1c-1d2e3f405060"))
    result = subprocess.run(["grub-script-check", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_incomplete_cfg_is_valid_grub_script_and_boots_no_slot(tmp_path: Path) -> None:
    require_commands("grub-script-check")
    cfg = tmp_path / "grub.cfg"
    cfg.write_text(grub.incomplete_cfg())
    result = subprocess.run(["grub-script-check", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = grub.incomplete_cfg()
    assert grub.INCOMPLETE_MARKER in text and "set default=next" in text
    for word in ("linux", "load_env", "save_env", grubcfg.MARKER):
        assert word not in text
    # exit, reboot and halt are built into the images (the ESP has no module folders).
    assert {"minicmd", "reboot", "halt"} <= set(grub.MODULES)


def test_grub_cfg_uses_the_shared_slot_choice() -> None:
    cfg = grub.grub_cfg("0b9f2a52-6f3a-4e0e-9c1c-1d2e3f405060")
    args = f"stook.state=UUID=0b9f2a52-6f3a-4e0e-9c1c-1d2e3f405060 {grub.KERNEL_ARGS}"
    assert grubcfg.slot_choice(args, panic=grub.PANIC_SECONDS) in cfg
    assert cfg.index("terminal_output console serial") < cfg.index("load_env")


def test_kernel_args_select_the_stook_initramfs_script_and_name_the_state() -> None:
    cfg = grub.grub_cfg("0b9f2a52-6f3a-4e0e-9c1c-1d2e3f405060")
    tokens = cfg.replace('"', " ").split()
    assert "boot=stook" in tokens  # iso-build/overlay/usr/share/initramfs-tools/scripts/stook
    assert "stook.state=UUID=0b9f2a52-6f3a-4e0e-9c1c-1d2e3f405060" in tokens
    root = Path(__file__).resolve().parents[3]
    assert (root / "iso-build/overlay/usr/share/initramfs-tools/scripts/stook").is_file()


def test_env_files_are_the_shared_initial_state_in_both_copies() -> None:
    env = slots.initial_state("2026.1.0").to_grubenv()
    assert {path: data.encode("ascii") for path, data in grub.env_files("2026.1.0").items()} == (
        EnvStore.files(env)
    )
    assert set(grub.env_files("")) == {
        "boot/grub/grubenv", "boot/grub/grubenv.lock", "boot/grub/grubenv2",
        "boot/grub/grubenv2.lock",
    }  # fmt: skip


def test_images_contain_every_module_the_slot_choice_needs() -> None:
    assert set(grubcfg.GRUB_MODULES) <= set(grub.MODULES)
    assert len(set(grub.MODULES)) == len(grub.MODULES)


def test_early_cfg_finds_the_esp_by_volume_id() -> None:
    assert "--fs-uuid --set=root 1A2B-3C4D" in grub.early_cfg("1A2B3C4D")


def test_bios_embedding_patches_sector_pointers_and_keeps_the_partition_table() -> None:
    boot_img = bytearray(512)
    boot_img[0x66:0x68] = b"\xeb\x05"
    mbr = bytearray(512)
    mbr[0x1BE:0x1CE] = b"\xee" * 16  # the protective MBR entry
    core_img = bytearray(3 * 512 - 100)
    struct.pack_into("<QHH", core_img, 500, 2, 2, 0x820)
    boot, core = biosboot.embed(bytes(boot_img), bytes(core_img), bytes(mbr), 2048, 2048)
    assert struct.unpack_from("<Q", boot, 0x5C)[0] == 2048
    assert boot[0x66:0x68] == b"\x90\x90" and boot[0x1BE:0x1CE] == b"\xee" * 16
    assert boot[510:] == b"\x55\xaa"
    assert len(core) == 3 * 512
    assert struct.unpack_from("<QHH", core, 500) == (2049, 2, 0x820)


def test_bios_embedding_refuses_a_too_small_partition() -> None:
    with pytest.raises(biosboot.BiosBootError, match="needs 3 sectors"):
        biosboot.embed(bytes(512), bytes(3 * 512), bytes(512), 2048, 2)

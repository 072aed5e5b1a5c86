"""GRUB images and the files the installer puts on the ESP.

The A/B logic is not here: the slot choice (grub.cfg fragment), the boot environment's model and
its on-disk form (two locked copies) all come from ``stook_core.boot`` (docs/ab-boot.md), the
same code the node's ``stook-os`` and the upgrade controller use. This module adds what only an
install needs: the modules built into the GRUB images, the early config that finds this
install's ESP, the grub.cfg around the slot choice (console, timeout) and the initial
environment files.
"""

from __future__ import annotations

from stook_core.boot import grubcfg, slots
from stook_core.boot.store import GRUB_DIR as ENV_DIR
from stook_core.boot.store import EnvStore

GRUB_LIB = "/usr/lib/grub"
GRUB_DIR = "/" + ENV_DIR  # GRUB's prefix on the ESP; the environment files live there too
# Every module grub.cfg needs is built into the images, so the ESP needs no module folders.
MODULES = tuple(
    dict.fromkeys(
        (
            *grubcfg.GRUB_MODULES,
            "ext2", "search", "search_fs_uuid", "configfile", "reboot", "halt", "all_video",
            "boot", "serial", "terminal",
        )
    )
)  # fmt: skip
TARGET_MODULES = {"i386-pc": ("biosdisk",), "x86_64-efi": ()}
PANIC_SECONDS = 5
MENU_SECONDS = 3
# Appended to the kernel command line after what the slot choice puts there. boot=stook selects
# the image's initramfs-tools script (iso-build/overlay/usr/share/initramfs-tools/scripts/stook):
# slot read-only as /, /etc overlay and binds from the state partition.
KERNEL_ARGS = (
    "boot=stook console=tty0 console=ttyS0,115200 rd.shell=0 rd.emergency=reboot "
    "systemd.crash_reboot"
)


def fat_uuid(volume_id: str) -> str:
    """How GRUB and blkid spell a FAT volume id: ``1A2B3C4D`` -> ``1A2B-3C4D``."""
    return f"{volume_id[:4]}-{volume_id[4:]}"


def early_cfg(esp_volume_id: str) -> str:
    """Built into both GRUB images: find this install's ESP and read grub.cfg from it."""
    return (
        f"search --no-floppy --fs-uuid --set=root {fat_uuid(esp_volume_id)}\n"
        f"set prefix=($root){GRUB_DIR}\n"
        "configfile $prefix/grub.cfg\n"
    )


def grub_cfg(state_uuid: str, kernel_args: str = "") -> str:
    """grub.cfg on the ESP: serial + screen console, then stook_core's slot choice."""
    args = f"stook.state=UUID={state_uuid} {KERNEL_ARGS}" + (
        f" {kernel_args}" if kernel_args else ""
    )
    return (
        "# Written by the Stook installer (docs/install-engine.md, docs/ab-boot.md).\n"
        f"set timeout={MENU_SECONDS}\n"
        "serial --unit=0 --speed=115200\n"
        "terminal_input console serial\n"
        "terminal_output console serial\n" + grubcfg.slot_choice(args, panic=PANIC_SECONDS)
    )


def env_files(version: str) -> dict[str, str]:
    """ESP-relative path -> content of the boot environment of a fresh install (both copies
    and their locks; GRUB cannot create files, so all must exist). The blocks are ASCII."""
    env = slots.initial_state(version).to_grubenv()
    return {path: block.decode("ascii") for path, block in EnvStore.files(env).items()}

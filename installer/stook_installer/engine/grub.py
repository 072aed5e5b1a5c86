"""GRUB images and the files the installer puts on the ESP.

The A/B logic is not here: the slot choice (grub.cfg fragment), the boot environment's model and
its on-disk form (two locked copies) all come from ``stook_core.boot`` (docs/ab-boot.md), the
same code the node's ``stook-os`` and the upgrade controller use. This module adds what only an
install needs: the modules built into the GRUB images, the early config that finds this
install's ESP, the grub.cfg around the slot choice (console, timeout), the initial
environment files, and the "install incomplete" grub.cfg that the ESP carries until the
install's last step (plan.ArmBoot) replaces it: a disk whose install stopped part way (an error,
a power cut) never boots as a node.
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
            "boot", "serial", "terminal", "minicmd",
        )
    )
)  # fmt: skip
TARGET_MODULES = {"i386-pc": ("biosdisk",), "x86_64-efi": ()}
PANIC_SECONDS = 5
MENU_SECONDS = 3
INCOMPLETE_SECONDS = 30  # long enough to read the notice; then the next boot device
INCOMPLETE_MARKER = "Stook: INSTALL INCOMPLETE"  # echoed to both consoles by incomplete_cfg
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


def _console_header(timeout: int) -> str:
    return (
        f"set timeout={timeout}\n"
        "serial --unit=0 --speed=115200\n"
        "terminal_input console serial\n"
        "terminal_output console serial\n"
    )


def incomplete_cfg() -> str:
    """grub.cfg while the install runs: no slot is booted. The notice goes to the screen and
    the serial console; by default GRUB then exits, which makes the firmware try its next boot
    device (BIOS: int 18h; UEFI: the next boot option), so the install medium or PXE comes
    back and the install can simply be run again."""
    notice = (
        f"{INCOMPLETE_MARKER}: the Stook install of this disk did not finish "
        "(it failed or the power went); no OS slot is booted."
    )
    return (
        "# Written by the Stook installer while it installs (docs/install-engine.md): the last\n"
        "# step replaces this file with the A/B boot configuration.\n"
        + _console_header(INCOMPLETE_SECONDS)
        + f'echo "{notice}"\n'
        'echo "Run the Stook installer again from the install medium or the network."\n'
        "set default=next\n"
        'menuentry "Install incomplete: boot the next device (install medium, network)" '
        "--id next {\n"
        '  echo "Stook: leaving GRUB for the next boot device"\n'
        "  exit\n"
        "}\n"
        'menuentry "Install incomplete: reboot" --id reboot {\n  reboot\n}\n'
        'menuentry "Install incomplete: power off" --id halt {\n  halt\n}\n'
    )


def grub_cfg(state_uuid: str, kernel_args: str = "") -> str:
    """grub.cfg on the ESP: serial + screen console, then stook_core's slot choice."""
    args = f"stook.state=UUID={state_uuid} {KERNEL_ARGS}" + (
        f" {kernel_args}" if kernel_args else ""
    )
    return (
        "# Written by the Stook installer (docs/install-engine.md, docs/ab-boot.md).\n"
        + _console_header(MENU_SECONDS)
        + grubcfg.slot_choice(args, panic=PANIC_SECONDS)
    )


def env_files(version: str) -> dict[str, str]:
    """ESP-relative path -> content of the boot environment of a fresh install (both copies
    and their locks; GRUB cannot create files, so all must exist). The blocks are ASCII."""
    env = slots.initial_state(version).to_grubenv()
    return {path: block.decode("ascii") for path, block in EnvStore.files(env).items()}

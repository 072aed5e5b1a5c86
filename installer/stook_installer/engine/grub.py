"""GRUB's configuration and environment on the ESP: A/B slots with attempt counters.

grubenv (on the ESP, outside both slots) holds ORDER ("A B"), per slot <S>_OK (1 = marked good
by the booted system) and <S>_LEFT (attempts left for a slot not yet marked good; 3 after an
install or update). GRUB boots the first slot in ORDER that is good or has attempts left,
spending one attempt on a slot that is not yet good. Slot S is GPT partition 3 (A) or 4 (B) of
the disk GRUB was loaded from; the kernel and initrd are read from the squashfs inside.
"""

from __future__ import annotations

import shutil

SLOTS = {"A": 3, "B": 4}
GRUB_LIB = "/usr/lib/grub"
# Every module grub.cfg needs is built into the images, so the ESP needs no module folders.
MODULES = (
    "part_gpt", "fat", "ext2", "squash4", "search", "search_fs_uuid", "normal", "configfile",
    "loadenv", "test", "regexp", "echo", "linux", "sleep", "reboot", "halt", "gzio", "xzio",
    "all_video", "boot", "serial", "terminal",
)  # fmt: skip
TARGET_MODULES = {"i386-pc": ("biosdisk",), "x86_64-efi": ()}
ATTEMPTS = 3
GRUB_DIR = "/boot/grub"


def bios_setup() -> str:
    """grub-bios-setup: on PATH on most distributions, under /usr/lib/grub on Debian."""
    debian = f"{GRUB_LIB}/i386-pc/grub-bios-setup"
    return shutil.which("grub-bios-setup") or debian


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


def initial_env() -> dict[str, str]:
    """A fresh install: slot A on trial with every attempt, slot B empty."""
    return {"ORDER": "A B", "A_OK": "0", "A_LEFT": str(ATTEMPTS), "B_OK": "0", "B_LEFT": "0"}


def _slot_choice(slot: str) -> str:
    lines = [f'      if [ "${slot}_OK" = "1" ]; then set stook_slot={slot}']
    for left in range(ATTEMPTS, 0, -1):
        lines.append(
            f'      elif [ "${slot}_LEFT" = "{left}" ]; then set {slot}_LEFT={left - 1}; '
            f"set stook_slot={slot}; save_env --file $stook_env {slot}_LEFT"
        )
    lines.append("      fi")
    return f'    if [ "$s" = "{slot}" ]; then\n' + "\n".join(lines) + "\n    fi"


def grub_cfg(state_uuid: str, kernel_args: str = "") -> str:
    choices = "\n".join(_slot_choice(slot) for slot in SLOTS)
    parts = "\n".join(
        f'if [ "$stook_slot" = "{s}" ]; then set stook_part={n}; fi' for s, n in SLOTS.items()
    )
    extra = f" {kernel_args}" if kernel_args else ""
    return f"""# Written by the Stook installer. A/B slot choice: see docs/install-engine.md.
insmod part_gpt
insmod fat
insmod squash4
insmod regexp
set timeout=3
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set stook_env=($root){GRUB_DIR}/grubenv
load_env --file $stook_env
set stook_slot=
for s in $ORDER; do
  if [ -z "$stook_slot" ]; then
{choices}
  fi
done
if [ -z "$stook_slot" ]; then
  echo "Stook: no slot is good or has attempts left; trying slot A"
  set stook_slot=A
fi
{parts}
regexp --set 1:stook_disk '^(.*),gpt[0-9]+$' "$root"
menuentry "Stook (slot $stook_slot)" {{
  linux (${{stook_disk}},gpt${{stook_part}})/boot/vmlinuz root=PARTLABEL=STOOK_${{stook_slot}} \
stook.slot=${{stook_slot}} stook.state=UUID={state_uuid} ro console=tty0 console=ttyS0,115200 \
panic=5 rd.shell=0 rd.emergency=reboot systemd.crash_reboot{extra}
  initrd (${{stook_disk}},gpt${{stook_part}})/boot/initrd.img
}}
"""

"""What the running system booted, and whether that matches the boot environment.

Userspace learns its slot from the kernel command line GRUB built (``stook.slot=A``,
``root=PARTLABEL=STOOK_A``, ``stook.boot=exhausted`` when no slot qualified). The boot
environment must agree before anything writes to it (the Mender rule): otherwise an update
could overwrite the running root, or counters could be reset in an environment GRUB never reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stook_core import kernel_cmdline
from stook_core.boot.slots import BootEnv, Slot, parse_slot
from stook_core.layout import LABEL_SLOT_A, LABEL_SLOT_B

PROC_CMDLINE = Path("/proc/cmdline")
SLOT_LABELS: dict[Slot, str] = {"A": LABEL_SLOT_A, "B": LABEL_SLOT_B}


@dataclass(frozen=True)
class Cmdline:
    slot: Slot | None
    root: str | None
    exhausted: bool
    raw: str
    env_unsaved: bool = False  # GRUB could not save the environment (stook.env=unsaved)


def parse_cmdline(text: str) -> Cmdline:
    """The words GRUB put on the kernel command line, split as the kernel splits them (a
    quote or backslash elsewhere on the line is no error)."""
    args: dict[str, str] = {}
    env_flags: set[str] = set()
    for word in kernel_cmdline.split(text):
        args[word.param] = word.value or ""  # the kernel also uses the last occurrence
        if word.param == "stook.env":
            env_flags.add(word.value or "")
    slot: Slot | None = None
    if "stook.slot" in args:
        try:
            slot = parse_slot(args["stook.slot"])
        except ValueError:
            slot = None
    return Cmdline(
        slot,
        args.get("root"),
        args.get("stook.boot") == "exhausted",
        text.strip(),
        env_unsaved="unsaved" in env_flags,
    )


def read_cmdline(path: Path = PROC_CMDLINE) -> Cmdline:
    return parse_cmdline(path.read_bytes().decode("utf-8", errors="replace"))


def mismatches(env: BootEnv, cmdline: Cmdline, os_version: str | None) -> list[str]:
    """Why the running system and the boot environment disagree (empty when they agree)."""
    if cmdline.slot is None:
        return [
            "the kernel command line has no stook.slot=A|B: this system was not booted by "
            "Stook's GRUB from an A/B slot (live ISO, rescue or hand-made boot entry)"
        ]
    slot = cmdline.slot
    problems = []
    expected_root = f"PARTLABEL={SLOT_LABELS[slot]}"
    if cmdline.root is not None and cmdline.root != expected_root:
        problems.append(f"booted slot {slot} but root={cmdline.root} (expected {expected_root})")
    if env.booted != slot:
        recorded = env.booted or "nothing"
        problems.append(
            f"booted slot {slot} but the boot environment says GRUB booted {recorded}: it is "
            "not the environment this system was booted with (another disk's ESP?), or GRUB "
            "could not write it"
        )
    recorded_version = env.slot(slot).version
    if os_version and recorded_version and os_version != recorded_version:
        problems.append(
            f"the running OS is version {os_version} but the boot environment records "
            f"{recorded_version} in slot {slot}"
        )
    return problems

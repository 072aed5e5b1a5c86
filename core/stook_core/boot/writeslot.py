"""Write an OS image into the passive slot of a running node (the first half of an upgrade).

The order makes every interruption safe (docs/ab-boot.md "Writing the passive slot"):

1. refuse unless the running system matches the boot environment, the booted slot is marked
   good (writing the other slot of a node on trial would destroy its fallback), the target is
   the passive slot's partition on the disk of the mounted ESP (``target_device``, also when
   the caller names it), and the image is a squashfs that fits, carries an OS version and
   (optionally) has the expected SHA-256;
2. invalidate the target slot in both environment copies *before* its first byte changes, so a
   power cut anywhere below leaves GRUB booting the running slot;
3. copy with progress, fsync, and compare what the disk returns (read with O_DIRECT) with what
   was read from the image and, when given, with the expected SHA-256;
4. record the version and, unless told not to, set the slot to be tried next (set_next).

The caller holds stook_core.boot.lock for all of it.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stook_core import hardware, osimage
from stook_core.boot import slots
from stook_core.boot.booted import SLOT_LABELS

MOUNTINFO = Path("/proc/self/mountinfo")
Say = Callable[[str], None]


class WriteSlotError(Exception):
    """The request was refused or failed; the message says why and what to do."""


@dataclass(frozen=True)
class Request:
    image: Path
    booted: slots.Slot
    device: str  # the target slot's partition
    version: str = ""  # "" = read it from the image's os-release
    sha256: str = ""  # "" = no expected checksum given
    set_next: bool = True
    attempts: int = slots.DEFAULT_ATTEMPTS

    @property
    def target(self) -> slots.Slot:
        return slots.other(self.booted)


def esp_disk(esp: Path, mountinfo: Path = MOUNTINFO) -> hardware.Disk:
    """The disk holding the partition mounted at *esp*: the disk whose slots that ESP's GRUB
    boots (another disk may carry a stale Stook install with the same labels)."""
    mounts = hardware.read_mounts(mountinfo)
    esp_dev = next((dev for dev, points in mounts.items() if str(esp) in points), None)
    if esp_dev is None:
        raise WriteSlotError(f"nothing is mounted at {esp}: the ESP (boot-efi.mount) is needed")
    part = Path(f"/sys/dev/block/{esp_dev}").resolve()
    return hardware.probe_disk(part.parent.name, mounts)


def _same_device(one: str, other: str) -> bool:
    if os.path.realpath(one) == os.path.realpath(other):
        return True
    try:
        first, second = Path(one).stat(), Path(other).stat()
    except OSError:
        return False
    return stat.S_ISBLK(first.st_mode) and first.st_rdev == second.st_rdev


def target_device(disk: hardware.Disk, esp: Path, slot: slots.Slot, given: str | None) -> str:
    """The partition named STOOK_<slot> on *disk* (the disk of the ESP at *esp*), refused
    when it is mounted or held; *given* (``--device``) must name that same partition."""
    label = SLOT_LABELS[slot]
    partition = next((p for p in disk.partitions if p.label == label), None)
    if partition is None:
        raise WriteSlotError(f"no partition named {label} on {disk.path} (the disk of {esp})")
    if given is not None and not _same_device(given, partition.path):
        raise WriteSlotError(
            f"--device {given} is not the passive slot: slot {slot} is {partition.path} "
            f"({label} on {disk.path}, the disk of the ESP at {esp}); leave --device out or "
            "name that partition"
        )
    if partition.mountpoints:
        mounted = ", ".join(partition.mountpoints)
        raise WriteSlotError(f"{partition.path} ({label}) is mounted at {mounted}")
    if partition.holders:
        held = ", ".join(partition.holders)
        raise WriteSlotError(f"{partition.path} ({label}) is in use by {held}")
    return partition.path


def check_request(request: Request, env: slots.BootEnv, slot_size: int) -> str:
    """Every refusal before anything is written; the OS version the slot will record."""
    booted = env.slot(request.booted)
    if not booted.ok:
        raise WriteSlotError(
            f"slot {request.booted} (booted) is on trial, not yet marked good: writing slot "
            f"{request.target} would destroy its fallback. Wait for boot-complete.target "
            "(stook-os status) or fix the failing health check first"
        )
    image = request.image
    size = osimage.image_size(image)
    if size is None:
        raise WriteSlotError(f"image {image}: cannot read it")
    if not osimage.is_squashfs(image):
        raise WriteSlotError(f"image {image}: not a squashfs OS image (no 'hsqs' magic)")
    if size > slot_size:
        raise WriteSlotError(
            f"image {image}: {size} bytes do not fit slot {request.target} ({slot_size} bytes)"
        )
    version = request.version or osimage.read_os_version(image)
    if not version:
        raise WriteSlotError(f"image {image}: no VERSION in its os-release; pass --version")
    try:
        slots.check_version(version)
    except ValueError as error:
        raise WriteSlotError(f"image {image}: {error}") from None
    if request.sha256:
        actual = osimage.sha256_prefix(image, size)
        if actual != request.sha256.lower():
            raise WriteSlotError(
                f"image {image}: SHA-256 {actual} is not the expected {request.sha256}: "
                "download it again"
            )
    return version


def progress_printer(say: Say, step: float = 0.05, seconds: float = 5.0) -> osimage.Progress:
    """Progress lines every *step* of the image or every *seconds*, whichever comes first."""
    last = {"fraction": -1.0, "time": 0.0}

    def report(fraction: float, detail: str) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or fraction - last["fraction"] >= step or now - last["time"] >= seconds:
            last.update(fraction=fraction, time=now)
            say(f"writing: {fraction:6.1%} ({detail})")

    return report


def write(
    request: Request,
    env: slots.BootEnv,
    save: Callable[[slots.BootEnv], None],
    slot_size: int,
    say: Say,
) -> slots.BootEnv:
    """Steps 1-4 of the module docstring; the environment saved last."""
    version = check_request(request, env, slot_size)
    target = request.target
    env = slots.invalidate(env, target)
    save(env)
    say(f"slot {target} invalidated in the boot environment ({request.device})")
    try:
        copied = osimage.copy_image(request.image, request.device, progress_printer(say))
        readback = osimage.read_back_sha256(request.device, copied.length)
    except OSError as error:
        raise WriteSlotError(
            f"writing {request.image} to {request.device} failed: {error}. Slot {target} stays "
            "invalid and the node keeps booting the running slot; run write-slot again"
        ) from None
    if readback != copied.sha256:
        raise WriteSlotError(
            f"{request.device}: the bytes read back differ from {request.image}: the disk may be "
            f"failing (smartctl -a). Slot {target} stays invalid"
        )
    if request.sha256 and readback != request.sha256.lower():
        raise WriteSlotError(
            f"{request.device}: what was written has SHA-256 {readback}, not the expected "
            f"{request.sha256}: {request.image} changed after it was checked (still being "
            f"downloaded or replaced?). Slot {target} stays invalid; run write-slot again"
        )
    say(
        f"slot {target}: {copied.length >> 20} MiB written and read back "
        f"(sha256 {copied.sha256[:16]}...)"
    )
    env = env.with_slot(target, slots.SlotState(version=version))
    if request.set_next:
        env = slots.set_next(env, target, attempts=request.attempts)
    save(env)
    return env

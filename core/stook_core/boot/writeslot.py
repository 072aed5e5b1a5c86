"""Write an OS image into the passive slot of a running node (the first half of an upgrade).

The order makes every interruption safe (docs/ab-boot.md "Writing the passive slot"):

1. refuse unless the running system matches the boot environment, the booted slot is marked
   good (writing the other slot of a node on trial would destroy its fallback), and the image
   is a squashfs that fits, carries an OS version and (optionally) has the expected SHA-256;
2. invalidate the target slot in both environment copies *before* its first byte changes, so a
   power cut anywhere below leaves GRUB booting the running slot;
3. copy with progress, fsync, drop the cached pages and compare what the disk returns;
4. record the version and, unless told not to, set the slot to be tried next (set_next).
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stook_core import hardware, osimage
from stook_core.boot import slots
from stook_core.boot.booted import SLOT_LABELS

LOCK = Path("/run/stook/write-slot.lock")
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


def slot_device(esp: Path, slot: slots.Slot, mountinfo: Path = Path("/proc/self/mountinfo")) -> str:
    """The partition named STOOK_<slot> on the disk whose ESP is mounted at *esp*: the slot
    that ESP's GRUB boots (another disk may carry a stale Stook install with the same labels)."""
    mounts = hardware.read_mounts(mountinfo)
    esp_dev = next((dev for dev, points in mounts.items() if str(esp) in points), None)
    if esp_dev is None:
        raise WriteSlotError(f"nothing is mounted at {esp}: the ESP (boot-efi.mount) is needed")
    part = Path(f"/sys/dev/block/{esp_dev}").resolve()
    disk = hardware.probe_disk(part.parent.name, mounts)
    label = SLOT_LABELS[slot]
    for partition in disk.partitions:
        if partition.label == label:
            if partition.mountpoints:
                mounted = ", ".join(partition.mountpoints)
                raise WriteSlotError(f"{partition.path} ({label}) is mounted at {mounted}")
            return partition.path
    raise WriteSlotError(f"no partition named {label} on {disk.path} (the disk of {esp})")


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


@contextlib.contextmanager
def exclusive(lock: Path | None = None) -> Iterator[None]:
    """One writer per node: a second write-slot would interleave two images."""
    lock = lock or LOCK
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WriteSlotError(f"another stook-os write-slot is running ({lock})") from None
        yield


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
        readback = osimage.sha256_prefix(Path(request.device), copied.length, from_medium=True)
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
    say(
        f"slot {target}: {copied.length >> 20} MiB written and read back "
        f"(sha256 {copied.sha256[:16]}...)"
    )
    env = env.with_slot(target, slots.SlotState(version=version))
    if request.set_next:
        env = slots.set_next(env, target, attempts=request.attempts)
    save(env)
    return env

"""OS image files (read-only squashfs): read members without mounting, copy one onto a slot
partition and check what reached the disk. Shared by the installer (slot A) and ``stook-os
write-slot`` (the passive slot of a running node)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from stook_core.boot.booted import os_release_version, parse_os_release

BLOCK = 4 << 20
SQUASHFS_MAGIC = b"hsqs"
Progress = Callable[[float, str], None]


def image_size(image: Path) -> int | None:
    """Bytes in the image file or block device (a disk's st_size is 0); None if unreadable."""
    try:
        if not stat.S_ISBLK(image.stat().st_mode):
            return image.stat().st_size
        with image.open("rb") as stream:
            return stream.seek(0, os.SEEK_END)
    except OSError:
        return None


def is_squashfs(image: Path) -> bool:
    """The file starts with the squashfs superblock magic (little-endian "hsqs")."""
    try:
        with image.open("rb") as stream:
            return stream.read(4) == SQUASHFS_MAGIC
    except OSError:
        return False


def cat_member(image: Path, member: str) -> str | None:
    """The text of *member* (e.g. ``etc/os-release``) inside the squashfs; None when missing."""
    try:
        result = subprocess.run(
            ["unsquashfs", "-cat", str(image), member],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    return result.stdout.decode("utf-8", "replace") if result.returncode == 0 else None


def read_os_version(image: Path) -> str:
    """The OS version the image's os-release names, as the booted node will read it
    (stook_core.boot.booted); "" when the image or the field is missing."""
    if image_size(image) is None:
        return ""
    text = cat_member(image, "etc/os-release") or cat_member(image, "usr/lib/os-release") or ""
    return os_release_version(parse_os_release(text)) or ""


class Copied(NamedTuple):
    length: int  # bytes copied
    sha256: str  # of those bytes, as read from the source while copying


def copy_image(source: Path, device: str, progress: Progress) -> Copied:
    """Copy *source* to *device* in large blocks and fsync; the length and SHA-256 of what was
    read, to compare with a read-back of the device (sha256_prefix with from_medium)."""
    total = image_size(source) or 0
    digest = hashlib.sha256()
    done = 0
    with source.open("rb") as src, Path(device).open("r+b", buffering=0) as dst:
        while chunk := src.read(BLOCK):
            dst.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            progress(done / total if total else 1.0, f"{done >> 20} of {total >> 20} MiB")
        os.fsync(dst.fileno())
    return Copied(done, digest.hexdigest())


def sha256_prefix(path: Path, length: int, *, from_medium: bool = False) -> str:
    """SHA-256 of the first *length* bytes. *from_medium* first drops the cached pages of *path*:
    right after a write they are still in the page cache, and hashing those proves nothing about
    what reached the disk."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        if from_medium:
            os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        remaining = length
        while remaining > 0 and (chunk := stream.read(min(BLOCK, remaining))):
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()

"""The OS image (a squashfs): its size, OS version and account files, read without mounting."""

from __future__ import annotations

import subprocess
from pathlib import Path

from stook_core.boot.booted import os_release_version, parse_os_release
from stook_installer.engine.files.users import Accounts

# Where live-boot exposes the OS image the live system runs from: the ISO carries it as
# /live/filesystem.squashfs (mounted at /run/live/medium), and a PXE boot with
# fetch=http://.../filesystem.squashfs downloads it to the same path. The installer writes that
# very file into slot A: one copy of the image on the medium.
DEFAULT_IMAGE = Path("/run/live/medium/live/filesystem.squashfs")


def image_size(image: Path) -> int | None:
    try:
        return image.stat().st_size
    except OSError:
        return None


def _cat(image: Path, member: str) -> str | None:
    try:
        result = subprocess.run(
            ["unsquashfs", "-cat", str(image), member],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    return result.stdout.decode("utf-8", "replace") if result.returncode == 0 else None


def read_accounts(image: Path) -> Accounts:
    """/etc/passwd, shadow and group of the image; the minimal set for parts it lacks."""
    fallback = Accounts()
    if image_size(image) is None:
        return fallback
    return Accounts(
        passwd=_cat(image, "etc/passwd") or fallback.passwd,
        shadow=_cat(image, "etc/shadow") or fallback.shadow,
        group=_cat(image, "etc/group") or fallback.group,
    )


def read_os_version(image: Path) -> str:
    """The OS version the image's os-release names, as the booted node will read it
    (stook_core.boot.booted); "" when the image or the field is missing."""
    if image_size(image) is None:
        return ""
    text = _cat(image, "etc/os-release") or _cat(image, "usr/lib/os-release") or ""
    return os_release_version(parse_os_release(text)) or ""

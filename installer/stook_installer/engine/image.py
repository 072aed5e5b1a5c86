"""The OS image (a squashfs): its size, and account files read from it without mounting."""

from __future__ import annotations

import subprocess
from pathlib import Path

from stook_installer.engine.files.users import Accounts

DEFAULT_IMAGE = Path("/run/live/medium/stook/os.squashfs")


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

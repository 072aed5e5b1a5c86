"""The OS image the installer writes: where the live medium has it, and its account files."""

from __future__ import annotations

from pathlib import Path

from stook_core.osimage import cat_member, image_size
from stook_installer.engine.files.users import Accounts

# Where live-boot exposes the OS image the live system runs from: the ISO carries it as
# /live/filesystem.squashfs (mounted at /run/live/medium), and a PXE boot with
# fetch=http://.../filesystem.squashfs downloads it to the same path. The installer writes that
# very file into slot A: one copy of the image on the medium.
DEFAULT_IMAGE = Path("/run/live/medium/live/filesystem.squashfs")


def read_accounts(image: Path) -> Accounts:
    """/etc/passwd, shadow, group and gshadow of the image; the minimal set for parts it lacks
    (gshadow: derived from group)."""
    fallback = Accounts()
    if image_size(image) is None:
        return fallback
    return Accounts(
        passwd=cat_member(image, "etc/passwd") or fallback.passwd,
        shadow=cat_member(image, "etc/shadow") or fallback.shadow,
        group=cat_member(image, "etc/group") or fallback.group,
        gshadow=cat_member(image, "etc/gshadow") or "",
    )

"""Resolve a DiskMatch (install_disk, data_disk, wipe_disks) against a machine's disks.

Every given criterion must hold: ``path`` is a glob over the device node and its by-id/by-path
links, ``serial`` and ``wwn`` are exact (a WWN with or without ``0x``/``naa.``/``eui.``), ``model``
is a glob over the model (or "vendor model"). Then ``size: largest|smallest`` picks one;
without it the criteria must match exactly one disk, and a size pick between equal disks is an
error naming them (never an arbitrary choice). Read-only disks never match, and a size
pick prefers fixed disks over removable ones (the live USB stick is removable).
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from stook_core.config.model import DiskMatch
from stook_core.hardware import Disk, human_size


class DiskMatchError(LookupError):
    """The match selects no disk, or several; the message says which and what to add."""


def _wwn(value: str) -> str:
    value = value.strip().lower()
    for prefix in ("0x", "naa.", "eui.", "wwn-"):
        value = value.removeprefix(prefix)
    return value


def matches(match: DiskMatch, disk: Disk) -> bool:
    if match.path is not None and not any(
        fnmatchcase(name, match.path) for name in (disk.path, *disk.links)
    ):
        return False
    if match.serial is not None and match.serial != disk.serial:
        return False
    if match.wwn is not None and (disk.wwn is None or _wwn(match.wwn) != _wwn(disk.wwn)):
        return False
    if match.model is not None:
        names = [disk.model or "", f"{disk.vendor or ''} {disk.model or ''}".strip()]
        if not any(fnmatchcase(name, match.model) for name in names):
            return False
    return True


def describe(match: DiskMatch) -> str:
    return ", ".join(f"{key} {value}" for key, value in match.criteria().items())


def resolve(match: DiskMatch, disks: Sequence[Disk]) -> Disk:
    """The one disk *match* selects; DiskMatchError with an operator-facing message otherwise."""
    found = [disk for disk in disks if matches(match, disk)]
    if not found:
        known = ", ".join(d.path for d in disks) or "none"
        raise DiskMatchError(f"matches no disk (disks: {known})")
    writable = [disk for disk in found if not disk.read_only]
    if not writable:
        raise DiskMatchError(f"matches only read-only disks: {', '.join(d.path for d in found)}")
    if match.size is None:
        if len(writable) > 1:
            raise DiskMatchError(
                f"matches {len(writable)} disks ({', '.join(d.path for d in writable)}): "
                "add serial, wwn or path, or size: largest|smallest to pick one"
            )
        return writable[0]
    fixed = [disk for disk in writable if not disk.removable] or writable
    pick = max if match.size == "largest" else min
    size = pick(disk.size for disk in fixed)
    tied = [disk for disk in fixed if disk.size == size]
    if len(tied) > 1:
        raise DiskMatchError(
            f"size: {match.size} ties between {len(tied)} disks of {human_size(size)} "
            f"({', '.join(d.path for d in tied)}): add serial, wwn or path to pick one"
        )
    return tied[0]

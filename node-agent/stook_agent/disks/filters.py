"""Which block devices count as the node's disks.

Left out: the OS disk (a partition or filesystem labelled STOOK_*), devices whose kernel name
matches the exclusion pattern (loop, ram, zram, floppy, optical, nbd by default), read-only and
empty devices, device-mapper devices other than multipath maps, and the member paths of a
multipath map (the map stands for the disk). An optional allow pattern narrows discovery to
devices whose kernel name or loop backing file matches (test rigs use it to see only their own
loop devices).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from stook_core.hardware import Disk

DEFAULT_EXCLUDE = r"^(loop|ram|zram|fd|sr|nbd)\d"


@dataclass(frozen=True)
class DiskFilter:
    exclude: str = DEFAULT_EXCLUDE
    allow: str | None = None

    def named(self, name: str, backing_file: str | None = None) -> bool:
        """A cheap first cut on the kernel name (and loop backing file) before probing."""
        if self.exclude and re.search(self.exclude, name):
            return False
        if self.allow is None:
            return True
        return any(v and re.search(self.allow, v) for v in (name, backing_file))

    def select(self, disks: Sequence[Disk]) -> tuple[list[Disk], dict[str, str]]:
        """The disks to publish, and why each other device was left out (name -> reason)."""
        hidden = {m for d in disks if d.kind == "multipath" for m in d.slaves}
        kept: list[Disk] = []
        skipped: dict[str, str] = {}
        for disk in disks:
            reason = self._reason(disk, hidden)
            if reason:
                skipped[disk.name] = reason
            else:
                kept.append(disk)
        return kept, skipped

    def _reason(self, disk: Disk, hidden: set[str]) -> str | None:
        if not self.named(disk.name, disk.backing_file):
            return "excluded by name"
        if disk.kind == "dm":
            return "device-mapper device (only multipath maps are disks)"
        if disk.name in hidden:
            return "a path of a multipath map"
        if disk.read_only:
            return "read-only"
        if disk.size <= 0:
            return "no medium"
        if disk.has_stook_install:
            return "the OS disk (Stook partition labels)"
        return None

"""Scan the node's disks: enumerate sysfs, probe each (udev properties when udev runs, sysfs
and blkid otherwise), filter, and name each by its stable identity."""

from __future__ import annotations

import logging

from stook_agent.disks.filters import DiskFilter
from stook_agent.disks.inventory import Found
from stook_core.diskid import identities, object_name
from stook_core.hardware import SYS_BLOCK, block_names, probe_disk, read_mounts

log = logging.getLogger(__name__)


def _backing_file(name: str) -> str | None:
    try:
        return (SYS_BLOCK / name / "loop" / "backing_file").read_text().strip() or None
    except OSError:
        return None


class Scanner:
    def __init__(self, node: str, disk_filter: DiskFilter) -> None:
        self.node = node
        self.filter = disk_filter
        self.skipped: dict[str, str] = {}

    def scan(self) -> dict[str, Found]:
        """Object name -> the disk and its identity, for every disk of the node now."""
        mounts = read_mounts()
        probed = []
        for name in block_names():
            if not self.filter.named(name, _backing_file(name)):
                continue
            try:
                probed.append(probe_disk(name, mounts))
            except (FileNotFoundError, OSError) as error:  # vanished while scanning
                log.info("disk %s vanished while being probed: %s", name, error)
        # Multipath members are known only from their map's slaves: filter after probing.
        kept, skipped = self.filter.select(probed)
        self.skipped = skipped
        ids = identities(kept)
        found: dict[str, Found] = {}
        for disk in kept:
            identity = ids[disk.name]
            found[object_name(self.node, identity)] = Found(disk, identity)
        return found

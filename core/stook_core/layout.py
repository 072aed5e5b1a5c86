"""The disk layout of an installed node and the sizes it needs (docs/disk-layout.md)."""

from __future__ import annotations

from dataclasses import dataclass

from stook_core.units import GiB, MiB

BIOS_BOOT_SIZE = 1 * MiB
ESP_SIZE = 512 * MiB
SLOT_SIZE = 5 * GiB
STATE_MIN = 32 * GiB
DATA_MIN = 50 * GiB
# The smallest ext4 partition the layout may end with: below it the table or the filesystem
# cannot be made at all, so no skip_checks can waive it.
PART_MIN = 16 * MiB
# GPT headers at both ends plus 1 MiB alignment at the start.
GPT_OVERHEAD = 2 * MiB

# Partition labels; the agent recognises an OS disk by these.
LABEL_ESP = "STOOK_EFI"
LABEL_SLOT_A = "STOOK_A"
LABEL_SLOT_B = "STOOK_B"
LABEL_STATE = "STOOK_STATE"
LABEL_DATA = "STOOK_DATA"
OS_LABELS = frozenset({LABEL_ESP, LABEL_SLOT_A, LABEL_SLOT_B, LABEL_STATE, LABEL_DATA})


@dataclass(frozen=True)
class DiskNeeds:
    """Minimum sizes, derived from the layout rather than picked by hand."""

    fixed: int = GPT_OVERHEAD + BIOS_BOOT_SIZE + ESP_SIZE + 2 * SLOT_SIZE

    @property
    def os_disk_min(self) -> int:
        """A disk holding only the OS: fixed parts plus the smallest state partition."""
        return self.fixed + STATE_MIN

    def shared_disk_min(self, persistent_size: int) -> int:
        """A disk holding the OS, a state partition of *persistent_size* and Longhorn data."""
        return self.fixed + max(persistent_size, STATE_MIN) + DATA_MIN

    def physical_min(self, persistent_size: int | None) -> int:
        """The smallest install disk the partition table fits on at all: *persistent_size*
        given (a shared disk), the state partition and a minimal data partition after it;
        else a minimal state partition. Below it an install is impossible, not just unwise."""
        if persistent_size is None:
            return self.fixed + PART_MIN
        return self.fixed + persistent_size + PART_MIN


NEEDS = DiskNeeds()

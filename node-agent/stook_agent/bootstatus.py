"""Which OS slot and version this node booted, as the OS publishes it.

The node's boot units write /run/stook/boot-status.json (``stook-os mark-good`` when the boot
checks passed, ``stook-os health-failed`` when one failed) in the shape of
``stook_core.boot.status.BootStatus``, and the agent reads it through that same model. While the
file is missing (early in a boot), or when it is unreadable, slot and version are "unknown"
rather than guessed.
"""

from __future__ import annotations

import os
from pathlib import Path

from stook_core.boot.status import STATUS_FILE, UNKNOWN, BootStatus, read

__all__ = ["DEFAULT_PATH", "PATH_ENV", "UNKNOWN", "BootStatus", "read_boot_status"]

DEFAULT_PATH = STATUS_FILE
PATH_ENV = "STOOK_BOOT_STATUS"  # in the agent's pod: /host/run/stook/boot-status.json


def read_boot_status(path: Path | None = None) -> BootStatus:
    path = path or Path(os.environ.get(PATH_ENV, DEFAULT_PATH))
    return read(path) or BootStatus()

"""Which OS slot and version this node booted, as the OS reports it.

The A/B OS (a later issue) writes /run/stook/boot-status.json, e.g.
``{"slot": "A", "version": "2026.1.0"}``. Until it does, or when the file is unreadable, both
are reported as "unknown" rather than guessed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path("/run/stook/boot-status.json")
PATH_ENV = "STOOK_BOOT_STATUS"
UNKNOWN = "unknown"
SLOTS = ("A", "B")


@dataclass(frozen=True)
class BootStatus:
    slot: str = UNKNOWN
    version: str = UNKNOWN


def read_boot_status(path: Path | None = None) -> BootStatus:
    path = path or Path(os.environ.get(PATH_ENV, DEFAULT_PATH))
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return BootStatus()
    if not isinstance(data, dict):
        return BootStatus()
    slot = data.get("slot")
    version = data.get("version")
    return BootStatus(
        slot=slot if slot in SLOTS else UNKNOWN,
        version=str(version)[:128] if isinstance(version, str) and version else UNKNOWN,
    )

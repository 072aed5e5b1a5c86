"""Stable disk identity: which property names a disk, and the object name derived from it.

A disk keeps its identity when its kernel name changes (/dev/sdb today, /dev/sdc after a
reboot or a re-plug). In order of trust:

1. WWN, when it is real (not empty, not all zeros) and unique among the node's disks (firmware
   that reports one WWN for every disk behind a controller would otherwise merge them);
2. the serial number (with vendor and model), when unique among the node's disks;
3. a loop device's backing file (test rigs: a loop device has no WWN or serial);
4. the bus path (where it is plugged in) plus the model.

WWNs are normalised (case, ``0x``/``naa.``/``eui.`` prefixes) so a udev version that spells
them differently does not change the identity.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from stook_core.hardware import Disk

Source = Literal["wwn", "serial", "backingFile", "busPath"]
MAX_NAME = 253  # a DNS-1123 subdomain
HASH_CHARS = 16


@dataclass(frozen=True)
class Identity:
    source: Source
    value: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.source}:{self.value}".encode()).hexdigest()[:HASH_CHARS]


def normalise_wwn(wwn: str | None) -> str | None:
    """A comparable WWN, or None when it carries no identity (missing, all zeros)."""
    if not wwn:
        return None
    value = re.sub(r"\s+", "", wwn.strip().lower())
    for prefix in ("0x", "naa.", "eui.", "t10."):
        value = value.removeprefix(prefix)
    digits = re.sub(r"[^0-9a-z]", "", value)
    if not digits or set(digits) <= {"0"}:
        return None
    return value


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if value and set(value) - {"0", " ", "-", "_"} else None


def identities(disks: Sequence[Disk]) -> dict[str, Identity]:
    """The identity of each disk (by kernel name), judged among all of the node's *disks*."""
    wwns = Counter(w for d in disks if (w := normalise_wwn(d.wwn)))
    serials = Counter(s for d in disks if (s := _serial_key(d)))
    found: dict[str, Identity] = {}
    for disk in disks:
        found[disk.name] = _identity(disk, wwns, serials)
    return found


def _serial_key(disk: Disk) -> str | None:
    serial = _clean(disk.serial)
    if serial is None:
        return None
    return f"{(disk.vendor or '').strip()}:{(disk.model or '').strip()}:{serial}"


def _identity(disk: Disk, wwns: Counter[str], serials: Counter[str]) -> Identity:
    wwn = normalise_wwn(disk.wwn)
    if wwn is not None and wwns[wwn] == 1:
        return Identity("wwn", wwn)
    serial = _serial_key(disk)
    if serial is not None and serials[serial] == 1:
        return Identity("serial", serial)
    if disk.backing_file:
        return Identity("backingFile", disk.backing_file)
    return Identity("busPath", f"{disk.bus_path or disk.path}:{(disk.model or '').strip()}")


def object_name(node: str, identity: Identity) -> str:
    """``<node>-<hash of the identity>``: a valid DNS-1123 subdomain, stable for the disk."""
    prefix = re.sub(r"[^a-z0-9.-]", "-", node.lower()).strip(".-") or "node"
    prefix = prefix[: MAX_NAME - HASH_CHARS - 1].rstrip(".-")
    return f"{prefix}-{identity.digest}"


def filesystem_label(name: str) -> str:
    """The ext4 label (at most 16 bytes) Stook writes on a disk it formats for *name*."""
    return f"stook-{hashlib.sha256(name.encode()).hexdigest()[:10]}"

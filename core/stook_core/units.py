"""Byte sizes written the Kubernetes way: 512Mi, 150Gi, 2T, or a plain number of bytes."""

from __future__ import annotations

import re

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
_SUFFIXES = {
    "": 1,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": KiB, "Mi": MiB, "Gi": GiB, "Ti": TiB,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]{0,2})\s*$")


def parse_size(text: str | int) -> int:
    """Return bytes for ``text``; raises ValueError naming the accepted suffixes."""
    if isinstance(text, int):
        if text < 0:
            raise ValueError("must not be negative")
        return text
    match = _SIZE.match(text)
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError("is not a size: use bytes or a suffix Ki, Mi, Gi, Ti (or K, M, G, T)")
    return int(float(match.group(1)) * _SUFFIXES[match.group(2)])


def format_size(size: int) -> str:
    """Shortest exact binary form (``150Gi``) when it reads as a size, else a rounded human
    form (``1.5 GiB``, ``14.9 GiB`` rather than ``15625000Ki``)."""
    for suffix, unit in (("Ti", TiB), ("Gi", GiB), ("Mi", MiB), ("Ki", KiB)):
        if size >= unit and size % unit == 0 and size // unit < 10_000:
            return f"{size // unit}{suffix}"
    for suffix, unit in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= unit:
            return f"{size / unit:.1f} {suffix}"
    return f"{size} B"


def binary_size(size: int) -> str:
    """Rounded binary units, labelled: 894 GiB, 3.64 TiB (what the size fields mean by Gi)."""
    for suffix, unit in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= unit:
            return f"{size / unit:.3g} {suffix}"
    return f"{size} B"

"""Order of OS versions: dotted parts compared as numbers where both are numbers, else as text
(2026.10.0 > 2026.9.1 > 2026.9; 1.0 < 1.0.1; 2.0~rc1 and 2.0+b1 compare by their text part)."""

from __future__ import annotations

import re

_PART = re.compile(r"[.+~_-]")


def _key(version: str) -> list[tuple[int, int | str]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in _PART.split(version) if p]


def compare(one: str, other: str) -> int:
    """-1, 0 or 1 as *one* is older than, the same as or newer than *other*."""
    a, b = _key(one), _key(other)
    return (a > b) - (a < b)

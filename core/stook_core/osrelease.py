"""os-release (``/etc/os-release``) parsing: the one place the OS version is read from, for the
running node (stook_core.boot.booted) and for an image (stook_core.osimage) alike."""

from __future__ import annotations

import shlex
from pathlib import Path

OS_RELEASE = Path("/etc/os-release")


def parse_os_release(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            continue
        values[key] = words[0] if words else ""
    return values


def os_release_version(values: dict[str, str]) -> str | None:
    """VERSION (VERSION_ID when VERSION is missing); None when unknown. The installer records
    the same field of the image into <S>_VERSION."""
    return values.get("VERSION") or values.get("VERSION_ID") or None


def read_os_version(path: Path = OS_RELEASE) -> str | None:
    """The running OS's version (os_release_version); None when unknown."""
    try:
        values = parse_os_release(path.read_text())
    except OSError:
        return None
    return os_release_version(values)

"""Format, mount and persist a Longhorn disk under the host root.

The agent runs in a pod with the host's root at ``host_root`` (``/host``; a temporary folder in
tests), mounted with bidirectional propagation, so a mount made at
``<host_root>/var/lib/stook/disks/<name>`` shows on the host at ``/var/lib/stook/disks/<name>``.
Persistence is a systemd mount unit on the host (``/etc/systemd/system``), enabled through a
``local-fs.target.wants`` link and marked ``nofail`` so a dead disk never blocks boot.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from stook_agent.disks.commands import run

_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.")


def unit_name(path: str) -> str:
    """``systemd-escape --path --suffix=mount`` of an absolute *path*."""
    trimmed = path.strip("/")
    out = []
    for index, char in enumerate(trimmed):
        if char == "/":
            out.append("-")
        elif char in _SAFE and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.extend(f"\\x{byte:02x}" for byte in char.encode())
    return "".join(out) + ".mount"


@dataclass(frozen=True)
class MountPlan:
    host_root: Path
    disks_dir: str  # on the host, e.g. /var/lib/stook/disks

    def host_path(self, name: str) -> str:
        return f"{self.disks_dir.rstrip('/')}/{name}"

    def local_path(self, name: str) -> Path:
        """Where the agent (in its mount namespace) mounts the disk."""
        return self.host_root / self.host_path(name).lstrip("/")

    def unit_path(self, name: str) -> Path:
        return self.host_root / "etc/systemd/system" / unit_name(self.host_path(name))

    def wants_link(self, name: str) -> Path:
        unit = unit_name(self.host_path(name))
        return self.host_root / "etc/systemd/system/local-fs.target.wants" / unit

    def unit_text(self, name: str, fs_uuid: str) -> str:
        return (
            "# Written by stook-agent for BlockDevice " + name + "; removed when unprovisioned.\n"
            "[Unit]\n"
            f"Description=Stook disk {name} (Longhorn)\n"
            "Before=local-fs.target\n\n"
            "[Mount]\n"
            f"What=/dev/disk/by-uuid/{fs_uuid}\n"
            f"Where={self.host_path(name)}\n"
            "Type=ext4\n"
            "Options=defaults,nofail\n\n"
            "[Install]\n"
            "WantedBy=local-fs.target\n"
        )

    def persist(self, name: str, fs_uuid: str) -> None:
        unit = self.unit_path(name)
        text = self.unit_text(name, fs_uuid)
        if not unit.exists() or unit.read_text() != text:
            unit.parent.mkdir(parents=True, exist_ok=True)
            partial = unit.with_name(unit.name + ".tmp")
            partial.write_text(text)
            partial.replace(unit)
        link = self.wants_link(name)
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f"../{unit.name}")

    def forget(self, name: str) -> None:
        for path in (self.wants_link(name), self.unit_path(name)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def mounted(self, name: str) -> bool:
        return os.path.ismount(self.local_path(name))

    def mount(self, name: str, device: str) -> None:
        target = self.local_path(name)
        target.mkdir(parents=True, exist_ok=True)
        if not self.mounted(name):
            run("mount", "-t", "ext4", device, str(target))

    def unmount(self, name: str, lazy: bool = False) -> None:
        target = self.local_path(name)
        if self.mounted(name):
            run("umount", *(["--lazy"] if lazy else []), str(target))
        with contextlib.suppress(OSError):
            target.rmdir()


def format_ext4(device: str, label: str) -> None:
    """Erase every signature on *device*, then make one ext4 filesystem labelled *label*."""
    run("wipefs", "--all", "--force", device)
    run("mkfs.ext4", "-F", "-q", "-L", label, device)


def filesystem_uuid(device: str) -> str:
    return run("blkid", "-p", "-s", "UUID", "-o", "value", device).strip()

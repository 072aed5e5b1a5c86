"""The primitive actions a step is made of. Each says which devices it writes to (the runner
refuses any outside the plan's disks) and how it reads in --dry-run output."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from stook_installer.engine.nodefile import NodeFile


@dataclass(frozen=True)
class Run:
    """An external command. Every argument naming a /dev/ node counts as a written device."""

    argv: tuple[str, ...]

    def devices(self) -> tuple[str, ...]:
        return tuple(arg for arg in self.argv if arg.startswith("/dev/"))

    def describe(self) -> list[str]:
        return [f"$ {shlex.join(self.argv)}"]


@dataclass(frozen=True)
class Mount:
    device: str
    target: Path

    def devices(self) -> tuple[str, ...]:
        return (self.device,)

    def describe(self) -> list[str]:
        return [f"$ mount --mkdir {self.device} {self.target}"]


@dataclass(frozen=True)
class Unmount:
    target: Path

    def devices(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> list[str]:
        return [f"$ umount {self.target}"]


@dataclass(frozen=True)
class WaitForDevices:
    """Wait until the kernel shows new partitions (there may be no udev to settle)."""

    paths: tuple[str, ...]

    def devices(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> list[str]:
        return [f"wait for {' '.join(self.paths)}"]


@dataclass(frozen=True)
class CopyImage:
    """Copy *source* onto *device* in large blocks (O_DIRECT), reporting progress, then fsync;
    the SHA-256 of what was read is kept for VerifyImage."""

    source: Path
    device: str

    def devices(self) -> tuple[str, ...]:
        return (self.device,)

    def describe(self) -> list[str]:
        return [f"copy {self.source} -> {self.device} (8 MiB direct writes, fsync)"]


@dataclass(frozen=True)
class VerifyImage:
    """Read the written bytes back from the device (O_DIRECT, once) and compare their SHA-256
    with that of the bytes CopyImage read from the image."""

    source: Path
    device: str

    def devices(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> list[str]:
        return [f"verify {self.device} against {self.source} (direct read-back, sha256)"]


@dataclass(frozen=True)
class InstallBiosBoot:
    """GRUB's boot.img into the MBR of *disk* and core.img into its BIOS boot *partition*."""

    disk: str
    partition: str
    boot_img: Path
    core_img: Path

    def devices(self) -> tuple[str, ...]:
        return (self.disk, self.partition)

    def describe(self) -> list[str]:
        return [
            f"write {self.boot_img} -> MBR of {self.disk} (keeping its partition table), "
            f"{self.core_img} -> {self.partition}"
        ]


@dataclass(frozen=True)
class WriteFiles:
    """Write node files under *root* (a mounted filesystem that mirrors the node's /)."""

    root: Path
    files: tuple[NodeFile, ...]

    def devices(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> list[str]:
        lines = []
        for node_file in self.files:
            lines.append(f"{node_file.header()} under {self.root}")
            if not node_file.directory and node_file.link_to is None:
                lines += [f"    | {line}" for line in node_file.shown().splitlines()]
        return lines


Action = (
    Run | Mount | Unmount | WaitForDevices | CopyImage | VerifyImage | InstallBiosBoot | WriteFiles
)

"""Files on the ESP of a whole-disk image, read and written with mtools (no FAT mount: the test
hosts' kernel has no vfat), addressed by the partition's byte offset in the image."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stook_core.boot.store import EnvStore

SECTOR = 512
ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


def partition_offset(image: Path, number: int) -> int:
    """Byte offset of GPT partition *number* in *image* (sfdisk reads image files)."""
    out = subprocess.run(
        ["sfdisk", "--json", str(image)], capture_output=True, text=True, check=True
    ).stdout
    for part in json.loads(out)["partitiontable"]["partitions"]:
        if part["node"].removeprefix(str(image)).lstrip("p") == str(number):
            return int(part["start"]) * SECTOR
    raise LookupError(f"{image} has no partition {number}")


@dataclass(frozen=True)
class Esp:
    image: Path
    offset: int

    @property
    def drive(self) -> str:
        return f"{self.image}@@{self.offset}"

    def read(self, path: str) -> bytes:
        result = subprocess.run(
            ["mtype", "-i", self.drive, f"::{path}"], capture_output=True, env=ENV, check=False
        )
        if result.returncode != 0:
            raise FileNotFoundError(f"{path} on the ESP of {self.image}: {result.stderr!r}")
        return result.stdout

    def write(self, path: str, data: bytes, folder: Path) -> None:
        """Replace *path* (its clusters may move: GRUB finds files anew on every boot)."""
        local = folder / Path(path).name
        local.write_bytes(data)
        subprocess.run(
            ["mcopy", "-o", "-i", self.drive, str(local), f"::{path}"],
            capture_output=True, env=ENV, check=True,
        )  # fmt: skip


def stage(files: Mapping[str, bytes], folder: Path) -> EnvStore:
    """ESP files (paths relative to the ESP) in a local *folder*, where userspace's EnvStore
    reads them as it would on a node's mounted ESP."""
    for name, data in files.items():
        target = folder / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return EnvStore(folder)

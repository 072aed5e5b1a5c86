"""Helpers for the install engine's tests and bench: machine profiles, example configs, and
sparse disk images on loop devices with a machine description built from them."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from stook_core.config.model import InstallConfig
from stook_core.config.validate import load_document
from stook_core.hardware import Machine, Nic, load_profile, probe

ROOT = Path(__file__).resolve().parents[2]
IMAGE_VERSION = "2026.1.0-test"  # VERSION in the test image's os-release
PACKAGE = ROOT / "installer" / "stook_installer"
PROFILES = PACKAGE / "profiles"
EXAMPLES = PACKAGE / "examples"
TOKEN = "example-cluster-token-change-me"
# The NICs of the os-and-data profile, which the example configs name.
EXAMPLE_NICS = [
    Nic(name=f"eno{i}", mac=mac, permanent_mac=mac, link_up=True, speed_mbps=10000)
    for i, mac in ((1, "3c:ec:ef:20:00:01"), (2, "3c:ec:ef:20:00:02"))
]


def profile(name: str) -> Machine:
    return load_profile(PROFILES / f"{name}.json")


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return data


def document(name: str = "create", **install: Any) -> dict[str, Any]:
    """An example document with ``install`` fields replaced (None removes a field)."""
    data = copy.deepcopy(example(name))
    for key, value in install.items():
        if value is None:
            data["install"].pop(key, None)
        else:
            data["install"][key] = value
    return data


def make_config(name: str = "create", **install: Any) -> InstallConfig:
    return load_document(document(name, **install))


# --- loop devices (root) ------------------------------------------------------------------------


def partition_ab(device: str, slot_mib: int) -> None:
    """An 8 MiB STOOK_EFI and slots STOOK_A and STOOK_B of *slot_mib* each on *device*, in the
    order an installed disk has them (partitions 1-3)."""
    subprocess.run(
        ["sgdisk", "-n", "1:0:+8M", "-c", "1:STOOK_EFI", "-n", f"2:0:+{slot_mib}M", "-c",
         "2:STOOK_A", "-n", f"3:0:+{slot_mib}M", "-c", "3:STOOK_B", device],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(["partprobe", device], check=True)


@contextmanager
def loop_disks(folder: Path, sizes: list[int]) -> Iterator[list[str]]:
    """Sparse images of *sizes* bytes attached as partitioned loop devices; always detached."""
    attached: list[str] = []
    try:
        for index, size in enumerate(sizes):
            image = folder / f"disk{index}.img"
            with image.open("wb") as stream:
                stream.truncate(size)
            result = subprocess.run(
                ["losetup", "--find", "--show", "--partscan", str(image)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            attached.append(result.stdout.strip())
        yield attached
    finally:
        for device in attached:
            subprocess.run(["losetup", "--detach", device], capture_output=True, check=False)


def loop_machine(devices: list[str]) -> Machine:
    """The real machine description of *devices* (probed from sysfs/blkid), with the example
    configs' NICs standing in for the host's (the engine only writes network files)."""
    machine = probe(devices, description=f"loop devices {' '.join(devices)}")
    return machine.model_copy(update={"nics": EXAMPLE_NICS})


def build_image(folder: Path) -> Path:
    """A small squashfs OS image: /boot/vmlinuz, /boot/initrd.img, os-release (VERSION
    IMAGE_VERSION) and account files."""
    root = folder / "rootfs"
    (root / "boot").mkdir(parents=True, exist_ok=True)
    (root / "etc").mkdir(exist_ok=True)
    for name, size in (("vmlinuz", 3 << 20), ("initrd.img", 2 << 20)):
        host = Path("/boot") / name
        data = host.read_bytes() if host.is_file() else bytes(range(256)) * (size // 256)
        (root / "boot" / name).write_bytes(data)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\nsudo:x:27:\nshadow:x:42:\n")
    (root / "etc" / "os-release").write_text(f'NAME="Stook OS"\nVERSION="{IMAGE_VERSION}"\n')
    image = folder / "os.squashfs"
    subprocess.run(
        ["mksquashfs", str(root), str(image), "-noappend", "-quiet", "-no-progress"],
        capture_output=True, check=True,
    )  # fmt: skip
    return image

"""stook-os write-slot onto a real GPT partition (loop device), reading the image from a block
device too (st_size is 0 there: sizes come from seeking). The "ESP" is an ext4 partition of the
same loop disk mounted where stook-os looks (no vfat on the CI host), so the passive slot is
found, and --device checked, through the real mountinfo and sysfs; the in-VM runs with the real
ESP are tests/e2e/test_upgrade_safety.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stook_core.boot import cli, slots
from stook_core.osimage import image_size
from support.fake_node import FAKE_CMDLINE_A, FakeNode, booted_a
from support.install_engine import loop_disks, partition_ab
from support.tiers import require_commands, require_root

MiB = 1 << 20


def make_image(folder: Path) -> Path:
    root = folder / "tree"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text('NAME="Stook OS"\nVERSION="3.1"\n')
    (root / "payload").write_bytes(bytes(range(256)) * 8192)
    image = folder / "image.squashfs"
    subprocess.run(["mksquashfs", str(root), str(image), "-noappend", "-quiet"], check=True)
    return image


def test_writes_a_slot_partition_from_an_image_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_root()
    require_commands("losetup", "sgdisk", "partprobe", "mksquashfs", "unsquashfs", "mkfs.ext4")
    image = make_image(tmp_path)
    esp = tmp_path / "esp"
    esp.mkdir()
    with loop_disks(tmp_path, [64 * MiB, image.stat().st_size, 64 * MiB]) as (
        disk, image_device, other_disk,
    ):  # fmt: skip
        for device in (disk, other_disk):
            partition_ab(device, 16)
        subprocess.run(["mkfs.ext4", "-q", f"{disk}p1"], check=True)
        subprocess.run(["mount", f"{disk}p1", str(esp)], check=True)
        try:
            node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")  # the env on that ESP
            subprocess.run(["dd", f"of={image_device}", f"if={image}", "bs=1M", "conv=fsync"],
                           check=True, capture_output=True)  # fmt: skip
            assert image_size(Path(image_device)) == image.stat().st_size
            # --device gets the checks the default gets: the booted slot and the same-named
            # partition of another disk are refused, before anything is written.
            for wrong in (f"{disk}p2", f"{other_disk}p3"):
                assert node.run("write-slot", image_device, "--device", wrong) == cli.EXIT_ERROR
                assert (
                    "is not the passive slot: slot B is " + f"{disk}p3" in capsys.readouterr().err
                )
            assert node.env() == booted_a()
            assert node.run("write-slot", image_device) == cli.EXIT_OK
            data = image.read_bytes()
            with Path(f"{disk}p3").open("rb") as written:
                assert written.read(len(data)) == data
            env = node.env()
        finally:
            subprocess.run(["umount", str(esp)], check=False)
    assert env.b == slots.SlotState(ok=False, left=3, version="3.1") and env.order == ("B", "A")
    assert "written and read back" in capsys.readouterr().out

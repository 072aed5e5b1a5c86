"""stook-os write-slot onto a real GPT partition (loop device), reading the image from a block
device too (st_size is 0 there: sizes come from seeking). The ESP is a directory here (no vfat
on the CI host); the in-VM runs with the real ESP are tests/e2e/test_upgrade_safety.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stook_core.boot import cli, slots, writeslot
from stook_core.osimage import image_size
from support.fake_node import FAKE_CMDLINE_A, FakeNode, booted_a
from support.install_engine import loop_disks
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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    require_root()
    require_commands("losetup", "sgdisk", "partprobe", "mksquashfs", "unsquashfs")
    monkeypatch.setattr(writeslot, "LOCK", tmp_path / "write-slot.lock")
    image = make_image(tmp_path)
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    with loop_disks(tmp_path, [64 * MiB, image.stat().st_size]) as (disk, image_device):
        subprocess.run(
            ["sgdisk", "-n", "1:0:+16M", "-c", "1:STOOK_A", "-n", "2:0:+16M", "-c", "2:STOOK_B",
             disk], check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(["partprobe", disk], check=True)
        slot_b = f"{disk}p2"
        subprocess.run(["dd", f"of={image_device}", f"if={image}", "bs=1M", "conv=fsync"],
                       check=True, capture_output=True)  # fmt: skip
        assert image_size(Path(image_device)) == image.stat().st_size
        assert node.run("write-slot", image_device, "--device", slot_b) == cli.EXIT_OK
        data = image.read_bytes()
        with Path(slot_b).open("rb") as written:
            assert written.read(len(data)) == data
    env = node.env()
    assert env.b == slots.SlotState(ok=False, left=3, version="3.1") and env.order == ("B", "A")
    assert "written and read back" in capsys.readouterr().out

"""stook-os write-slot with real squashfs images; a regular file stands in for the slot
partition (the loop-device and in-VM runs are in tests/integration and tests/e2e)."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from stook_core.boot import cli, slots, writeslot
from stook_core.units import MiB
from support.fake_node import FAKE_CMDLINE_A, FakeNode, booted_a
from support.tiers import require_commands


def make_image(tmp_path: Path, version: str, name: str = "image.squashfs", filler: int = 0) -> Path:
    """A real squashfs whose os-release says *version*; *filler* random bytes make it bigger."""
    require_commands("mksquashfs", "unsquashfs")
    root = tmp_path / f"{name}.root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(f'NAME="Stook OS"\nVERSION="{version}"\n')
    if filler:
        (root / "filler").write_bytes(hashlib.shake_256(name.encode()).digest(filler))
    image = tmp_path / name
    subprocess.run(
        ["mksquashfs", str(root), str(image), "-noappend", "-quiet", "-no-progress"], check=True
    )
    return image


@pytest.fixture(autouse=True)
def _lock_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writeslot, "LOCK", tmp_path / "write-slot.lock")


def fake_slot_partition(tmp_path: Path, size: int = 4 * MiB) -> Path:
    """A file of *size* bytes standing in for the STOOK_B partition."""
    device = tmp_path / "fake_slot_b"
    device.write_bytes(b"\xee" * size)
    return device


def test_writes_verifies_and_sets_the_slot_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    image = make_image(tmp_path, "2.0", filler=MiB)
    device = fake_slot_partition(tmp_path)
    assert node.run("write-slot", str(image), "--device", str(device)) == cli.EXIT_OK
    data = image.read_bytes()
    assert device.read_bytes()[: len(data)] == data
    env = node.env()
    assert env.order == ("B", "A")
    assert env.b == slots.SlotState(ok=False, left=3, version="2.0")
    assert env.a.ok and env.a.version == "1.0"
    out = capsys.readouterr().out
    assert "slot B invalidated" in out and "writing: 100.0%" in out
    assert "slot B holds 2.0 and will be tried on the next boot" in out


def test_the_slot_is_invalid_before_its_first_byte_changes(tmp_path: Path) -> None:
    """A power cut during the copy must find slot B unbootable in the saved environment."""
    env = slots.set_next(booted_a(), "B", version="1.5")  # B held an older image
    env = slots.mark_good(replace_booted(env, "A"), "A")
    image = make_image(tmp_path, "2.0", filler=MiB)
    device = fake_slot_partition(tmp_path)
    original = device.read_bytes()
    saved: list[tuple[slots.BootEnv, bytes]] = []
    request = writeslot.Request(image=image, booted="A", device=str(device))

    def save(new_env: slots.BootEnv) -> None:
        saved.append((new_env, device.read_bytes()))

    writeslot.write(request, env, save, device.stat().st_size, say=lambda line: None)
    first_env, device_then = saved[0]
    assert device_then == original
    assert first_env.b == slots.SlotState() and slots.grub_pick(first_env).slot == "A"
    assert saved[-1][0].b.version == "2.0"


def replace_booted(env: slots.BootEnv, slot: slots.Slot) -> slots.BootEnv:
    return replace(env, booted=slot)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("on_trial", "is on trial"),
        ("not_squashfs", "not a squashfs"),
        ("too_big", "do not fit slot B"),
        ("wrong_sha", "is not the expected"),
        ("no_version", "no VERSION"),
    ],
)
def test_refusals_touch_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, expected: str
) -> None:
    env = booted_a()
    if case == "on_trial":
        env = replace_booted(slots.grub_pick(slots.initial_state("1.0")).env, "A")
    node = FakeNode(tmp_path, env, FAKE_CMDLINE_A, "1.0")
    image = make_image(tmp_path, "2.0" if case != "no_version" else "", filler=MiB)
    device = fake_slot_partition(tmp_path, size=(MiB // 2) if case == "too_big" else 4 * MiB)
    if case == "not_squashfs":
        image.write_bytes(b"\x00" * MiB)
    args = ["write-slot", str(image), "--device", str(device)]
    if case == "wrong_sha":
        args += ["--sha256", "0" * 64]
    before = (node.env(), device.read_bytes())
    assert node.run(*args) == cli.EXIT_ERROR
    assert expected in capsys.readouterr().err
    assert (node.env(), device.read_bytes()) == before


def test_a_failed_write_leaves_the_slot_invalid(tmp_path: Path) -> None:
    image = make_image(tmp_path, "2.0", filler=MiB)
    not_a_device = tmp_path / "a_directory"
    not_a_device.mkdir()
    saved: list[slots.BootEnv] = []
    request = writeslot.Request(image=image, booted="A", device=str(not_a_device))
    with pytest.raises(writeslot.WriteSlotError, match="stays invalid"):
        writeslot.write(request, booted_a(), saved.append, 4 * MiB, say=lambda line: None)
    assert [env.b for env in saved] == [slots.SlotState()]


def test_no_set_next_records_the_version_only(tmp_path: Path) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    image = make_image(tmp_path, "2.0")
    device = fake_slot_partition(tmp_path)
    args = ("write-slot", str(image), "--device", str(device), "--no-set-next")
    assert node.run(*args) == cli.EXIT_OK
    env = node.env()
    assert env.order == ("A", "B") and env.b == slots.SlotState(version="2.0")
    assert node.run("set-next", "B") == cli.EXIT_OK
    assert node.env().order == ("B", "A")


def test_a_second_writer_is_refused() -> None:
    with writeslot.exclusive(), pytest.raises(writeslot.WriteSlotError, match="another"):
        writeslot.exclusive().__enter__()

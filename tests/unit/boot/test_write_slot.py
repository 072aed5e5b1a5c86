"""stook-os write-slot with real squashfs images; regular files stand in for the slot
partitions and a Disk model (as a machine profile would give it) for the disk of the mounted
ESP (the loop-device and in-VM runs are in tests/integration and tests/e2e)."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from stook_core.boot import cli, lock, slots, writeslot
from stook_core.hardware import Disk, Partition
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


def fake_esp_disk(tmp_path: Path, mounted_b: tuple[str, ...] = ()) -> Disk:
    """The disk of the mounted ESP: slot partitions are files under *tmp_path*."""
    parts = [
        Partition(number=n, path=str(tmp_path / f"fake_slot_{s.lower()}"), size=4 * MiB,
                  label=f"STOOK_{s}", mountpoints=list(mounted_b if s == "B" else ("/",)))
        for n, s in ((3, "A"), (4, "B"))
    ]  # fmt: skip
    return Disk(name="vda", path="/dev/vda", size=64 * MiB, partitions=parts)


@pytest.fixture(autouse=True)
def _esp_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writeslot, "esp_disk", lambda esp: fake_esp_disk(tmp_path))


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


def test_without_device_the_passive_slot_is_found_on_the_esps_disk(tmp_path: Path) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    image = make_image(tmp_path, "2.0")
    device = fake_slot_partition(tmp_path)
    assert node.run("write-slot", str(image)) == cli.EXIT_OK
    assert device.read_bytes().startswith(image.read_bytes())


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("booted-slot", "is not the passive slot: slot B is"),
        ("other-disk", "is not the passive slot: slot B is"),
        ("mounted", "is mounted at /mnt/b"),
    ],
)
def test_device_gets_the_same_checks_as_without_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: str,
    expected: str,
) -> None:
    """--device must name the passive slot's partition on the ESP's disk, unmounted."""
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    image = make_image(tmp_path, "2.0")
    target = fake_slot_partition(tmp_path)
    named = {"booted-slot": tmp_path / "fake_slot_a", "other-disk": tmp_path / "other_disk_b"}
    given = named.get(case, target)
    given.write_bytes(b"\xee" * 4 * MiB)
    if case == "mounted":
        disk = fake_esp_disk(tmp_path, mounted_b=("/mnt/b",))
        monkeypatch.setattr(writeslot, "esp_disk", lambda esp: disk)
    before = (node.env(), given.read_bytes())
    assert node.run("write-slot", str(image), "--device", str(given)) == cli.EXIT_ERROR
    assert expected in capsys.readouterr().err
    assert (node.env(), given.read_bytes()) == before


def test_the_expected_sha256_is_checked_against_what_was_written(tmp_path: Path) -> None:
    """The image matches --sha256 when checked, then changes before it is copied (a download
    still being written): what reached the slot is not the expected image, so it is refused."""
    image = make_image(tmp_path, "2.0", filler=MiB)
    expected = hashlib.sha256(image.read_bytes()).hexdigest()
    device = fake_slot_partition(tmp_path)
    request = writeslot.Request(image=image, booted="A", device=str(device), sha256=expected)
    saved: list[slots.BootEnv] = []

    def say(line: str) -> None:
        if "invalidated" in line:  # after the checks, before the copy
            data = bytearray(image.read_bytes())
            data[-1] ^= 0xFF
            image.write_bytes(bytes(data))

    with pytest.raises(writeslot.WriteSlotError, match="not the expected"):
        writeslot.write(request, booted_a(), saved.append, 4 * MiB, say=say)
    assert [env.b for env in saved] == [slots.SlotState()]  # B stays invalid


def test_writers_share_one_lock_and_a_held_lock_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A, "1.0")
    image = make_image(tmp_path, "2.0")
    fake_slot_partition(tmp_path)
    with lock.hold(node.lock, "write-slot", wait=0):
        for args in (("mark-good",), ("set-next", "A"), ("write-slot", str(image))):
            started = time.monotonic()
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(lock, "WAIT_SECONDS", 0.3)
                assert node.run(*args) == cli.EXIT_ERROR
            assert time.monotonic() - started < 5
            err = capsys.readouterr().err
            assert "another stook-os command is running (stook-os write-slot, pid" in err, err
        assert node.run("status") == cli.EXIT_OK  # reading needs no lock
    assert node.env() == booted_a()
    assert node.run("mark-good") == cli.EXIT_OK  # free again


def test_a_lock_holder_is_waited_for_then_named() -> None:
    """The wait uses the injected clock: a holder that stays is named after the wait."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stook-os.lock"
        with lock.hold(path, "write-slot", wait=0):
            held = lock.hold(path, "mark-good", wait=10, clock=lambda: now[0], sleep=sleep)
            with pytest.raises(lock.LockHeldError, match="write-slot"), held:
                pass
    assert now[0] >= 10

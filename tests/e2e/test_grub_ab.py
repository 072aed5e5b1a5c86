"""The A/B slot choice in a real GRUB: install a disk image with the engine, then for several
boot environments boot it in QEMU (SeaBIOS, and OVMF) until GRUB has chosen a slot and starts
loading its kernel, read the environment back from the ESP and compare it with
stook_core.boot's model (store.EnvStore.load picks the copy, slots.grub_pick the slot and
the saved environment). And a disk whose install failed before its last step: GRUB shows the
"install incomplete" notice and leaves for the next boot device without loading a slot."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from stook_core.boot import grubcfg, grubenv, slots
from stook_core.boot.slots import BootEnv, SlotState
from stook_core.boot.store import COPIES, GRUB_DIR, LOCK_VAR, EnvStore
from stook_core.config.validate import load_document
from stook_installer.engine import InstallFailed, build_plan, execute, grub, install
from stook_installer.engine.consent import Consent
from stook_installer.engine.nodefile import NodeFile
from stook_installer.engine.plan import WriteState
from support.esp import Esp, partition_offset, stage
from support.install_engine import IMAGE_VERSION, build_image, document, loop_disks, loop_machine
from support.qemu import OVMF_CODE, Firmware, Machine
from support.tiers import require_commands, require_root, require_tier

GiB = 1 << 30
BOOT_SECONDS = 90.0  # GRUB alone takes about 5 s under TCG (3 s of it the menu timeout)
TOOLS = ("losetup", "sgdisk", "partprobe", "wipefs", "mkfs.ext4", "mkfs.vfat", "mksquashfs",
         "unsquashfs", "grub-mkimage", "mcopy", "mtype", "sfdisk",
         "qemu-system-x86_64")  # fmt: skip
NEW = "2026.2.0~rc1+b2"  # the version "written" into slot B: GRUB must accept ~ and +
CHOSE = re.compile(r"Stook: chose slot ([AB]) \(copy ([0-2]) read, saved ([01])\)")
FLAGS = re.compile(r"Stook: flags:(.*)")
Files = dict[str, bytes]


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installed disk image (the engine on loop devices, then detached)."""
    require_root()
    require_commands(*TOOLS)
    folder = tmp_path_factory.mktemp("installed")
    image = build_image(folder)
    with loop_disks(folder, [50 * GiB, 60 * GiB]) as (os_disk, data_disk):
        config = document(install_disk={"path": os_disk}, data_disk={"path": data_disk})
        install(load_document(config), loop_machine([os_disk, data_disk]), image, print,
                dry_run=False)  # fmt: skip
    return folder / "disk0.img"


def good_a() -> BootEnv:
    """A node whose first boot of slot A passed its health check."""
    return slots.mark_good(slots.grub_pick(slots.initial_state(IMAGE_VERSION)).env, "A")


def b_next(attempts: int = slots.DEFAULT_ATTEMPTS) -> BootEnv:
    return slots.set_next(good_a(), "B", NEW, attempts=attempts)


def files(env: BootEnv) -> Files:
    return EnvStore.files(env.to_grubenv())


def path(name: str) -> str:
    return f"{GRUB_DIR}/{name}"


def copy1_locked(content: Files) -> Files:
    """Copy 1 holds an older environment and its lock says a write was cut short."""
    stale = files(slots.initial_state(IMAGE_VERSION))
    return content | {
        path(COPIES[0]): stale[path(COPIES[0])],
        path(f"{COPIES[0]}.lock"): grubenv.render({LOCK_VAR: "1"}),
    }


def copy1_invalid(content: Files) -> Files:
    """Copy 1 is a well-formed block with a counter GRUB cannot act on."""
    env = grubenv.parse(content[path(COPIES[0])]) | {"B_LEFT": "x"}
    return content | {path(COPIES[0]): grubenv.render(env)}


def copy1_not_a_block(content: Files) -> Files:
    """Copy 1 is not an environment block at all: GRUB can read copy 2 but save nothing."""
    return content | {path(COPIES[0]): bytes(grubenv.SIZE)}


@dataclass(frozen=True)
class Case:
    env: BootEnv  # copy 2, and copy 1 unless *damage* changes it
    firmware: Firmware = "bios"
    damage: Callable[[Files], Files] | None = None


CASES = {
    "fresh-install": Case(slots.initial_state(IMAGE_VERSION)),
    "fresh-install-uefi": Case(slots.initial_state(IMAGE_VERSION), "uefi"),
    "b-next": Case(b_next()),
    "b-next-9-attempts-uefi": Case(b_next(attempts=9), "uefi"),
    "b-spent-falls-back-to-a": Case(b_next().with_slot("B", SlotState(False, 0, NEW))),
    "b-good": Case(slots.mark_good(b_next(), "B")),
    "exhausted-boots-a-slot-holding-an-image": Case(
        BootEnv(("B", "A"), SlotState(False, 0, IMAGE_VERSION), SlotState(False, 0, ""), "B")
    ),
    "copy1-locked": Case(b_next(), damage=copy1_locked),
    "copy1-invalid": Case(b_next(), damage=copy1_invalid),
}


def boot(disk: Path, case: Case, content: Files, folder: Path) -> tuple[re.Match[str], str]:
    """Put *content* on the ESP, boot until GRUB loads a kernel; (chose-line, flags)."""
    if case.firmware == "uefi":
        require_tier(OVMF_CODE.exists(), str(OVMF_CODE), "apt-get install ovmf")
    esp = Esp(disk, partition_offset(disk, 2))
    for name, data in content.items():
        esp.write(name, data, folder)
    log = folder / "serial.log"
    text = Machine(disk, folder, case.firmware).boot_until(grubcfg.MARKER, log, BOOT_SECONDS)
    chose, flags = CHOSE.search(text), FLAGS.search(text)
    assert chose is not None and flags is not None, f"no choice on the serial console ({log})"
    return chose, flags.group(1).strip()


def read_back(disk: Path) -> Files:
    esp = Esp(disk, partition_offset(disk, 2))
    return {name: esp.read(name) for name in files(good_a())}


@pytest.mark.parametrize("name", CASES)
def test_grub_chooses_and_saves_as_the_model_says(disk: Path, tmp_path: Path, name: str) -> None:
    case = CASES[name]
    content = files(case.env)
    if case.damage is not None:
        content = case.damage(content)
    loaded = stage(content, tmp_path / "stage").load(validate=BootEnv.from_grubenv)
    choice = slots.grub_pick(BootEnv.from_grubenv(loaded.env))

    chose, flags = boot(disk, case, content, tmp_path)

    assert (chose.group(1), int(chose.group(2)), chose.group(3)) == (choice.slot, loaded.copy, "1")
    assert ("stook.boot=exhausted" in flags) == choice.exhausted
    after = read_back(disk)
    expected = choice.env.to_grubenv()
    for copy in COPIES:
        assert grubenv.parse(after[path(f"{copy}.lock")]) == {LOCK_VAR: "0"}
        assert grubenv.parse(after[path(copy)]) == expected, copy
    assert stage(after, tmp_path / "after").load(validate=BootEnv.from_grubenv).consistent


def test_grub_boots_a_good_slot_when_it_cannot_count_the_attempt(
    disk: Path, tmp_path: Path
) -> None:
    """Copy 1 is not a block: GRUB reads copy 2 but cannot save, so it must not spend B's
    trial (that attempt would never be counted); it boots good slot A and says so."""
    env = b_next()
    content = copy1_not_a_block(files(env))
    chose, flags = boot(disk, Case(env), content, tmp_path)
    assert (chose.group(1), chose.group(2), chose.group(3)) == ("A", "2", "0")
    assert "stook.env=unsaved" in flags
    after = read_back(disk)
    assert after[path(COPIES[1])] == content[path(COPIES[1])]  # copy 2 untouched
    assert grubenv.parse(after[path(f"{COPIES[0]}.lock")]) == {LOCK_VAR: "1"}
    # Userspace reads the same copy 2 (copy 1 is locked now) and sees GRUB did not record a boot.
    loaded = stage(after, tmp_path / "after").load(validate=BootEnv.from_grubenv)
    assert loaded.copy == 2 and BootEnv.from_grubenv(loaded.env) == env


def test_grub_boots_no_slot_from_a_disk_whose_install_failed(tmp_path: Path) -> None:
    """The engine's install fails in its write-state step (a file that cannot be written):
    GRUB (SeaBIOS) shows the install-incomplete notice, loads no slot and, after the menu
    timeout, leaves for the next boot device."""
    require_root()
    require_commands(*TOOLS)
    image = build_image(tmp_path)
    with loop_disks(tmp_path, [50 * GiB, 60 * GiB]) as (os_disk, data_disk):
        config = document(install_disk={"path": os_disk}, data_disk={"path": data_disk})
        machine = loop_machine([os_disk, data_disk])
        # Its own work folder: another install (another test run) may share /run/stook-installer.
        plan = build_plan(load_document(config), machine, image, workdir=tmp_path / "work")
        broken = NodeFile("/etc/hostname/cannot-be-a-folder", "x")
        steps = tuple(
            dataclasses.replace(s, files=(*s.files, broken)) if isinstance(s, WriteState) else s
            for s in plan.steps
        )
        with pytest.raises(InstallFailed, match="step write-state failed"):
            broken_plan = dataclasses.replace(plan, steps=steps)
            execute(broken_plan, Consent.to(broken_plan), print, dry_run=False)
    log = tmp_path / "serial.log"
    leaving = "Stook: leaving GRUB for the next boot device"
    seconds = BOOT_SECONDS + grub.INCOMPLETE_SECONDS
    text = Machine(tmp_path / "disk0.img", tmp_path, "bios").boot_until(leaving, log, seconds)
    assert grub.INCOMPLETE_MARKER in text
    assert grubcfg.MARKER not in text and CHOSE.search(text) is None

"""Real installs onto sparse disk images on loop devices (root): partitions, filesystems,
labels, GRUB for BIOS and UEFI, the node's files, reruns, untouched disks on refusal, and a
disk whose install failed part way that boots no slot."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stook_core.boot import grubcfg, slots
from stook_core.boot.slots import BootEnv
from stook_core.boot.store import BootEnvUnreadableError, EnvStore
from stook_core.config.validate import load_document
from stook_core.hardware import dump_profile
from stook_installer import install_cli
from stook_installer.engine import InstallFailed, build_plan, execute, grub, install
from stook_installer.engine.consent import Consent
from stook_installer.engine.events import Event
from stook_installer.engine.files.users import SHADOW_MODE
from stook_installer.engine.nodefile import NodeFile
from stook_installer.engine.plan import WriteState
from support.esp import stage
from support.install_engine import (
    IMAGE_VERSION,
    TOKEN,
    build_image,
    document,
    loop_disks,
    loop_machine,
)
from support.tiers import require_commands, require_root

GiB = 1 << 30
SHADOW_GID = 42  # the shadow group of the test image's /etc/group (build_image)
TOOLS = ("losetup", "sgdisk", "partprobe", "wipefs", "mkfs.ext4", "mkfs.vfat", "mksquashfs",
         "unsquashfs", "grub-mkimage", "mcopy", "mtype", "blkid")  # fmt: skip


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root()
    require_commands(*TOOLS)
    return build_image(tmp_path_factory.mktemp("image"))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "work"


def run_install(config: dict[str, Any], devices: list[str], image: Path) -> list[Event]:
    events: list[Event] = []
    install(load_document(config), loop_machine(devices), image, events.append, dry_run=False)
    return events


def sgdisk_table(device: str) -> list[tuple[int, str, str, int]]:
    """(number, type code, name, size in sectors) per partition."""
    out = subprocess.run(["sgdisk", "--print", device], capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        words = line.split()
        if words and words[0].isdigit():
            number, start, end, code, name = (
                int(words[0]),
                int(words[1]),
                int(words[2]),
                words[5],
                words[6],
            )
            rows.append((number, code, name, end - start + 1))
    return rows


def blkid(device: str) -> dict[str, str]:
    out = subprocess.run(["blkid", "-p", "-o", "export", device], capture_output=True, text=True)
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def esp_file(device: str, path: str) -> bytes:
    found = esp_file_or_none(device, path)
    assert found is not None, f"{path} missing on {device}"
    return found


def esp_file_or_none(device: str, path: str) -> bytes | None:
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    result = subprocess.run(["mtype", "-i", device, f"::{path}"], capture_output=True, env=env)
    return result.stdout if result.returncode == 0 else None


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Any]:
    mounts: list[Path] = []

    def mount(device: str) -> Path:
        target = tmp_path / f"mnt{len(mounts)}"
        target.mkdir()
        subprocess.run(["mount", "-o", "ro", device, str(target)], check=True)
        mounts.append(target)
        return target

    yield mount
    for target in reversed(mounts):
        subprocess.run(["umount", str(target)], check=False)


def check_boot(disk: str, image: Path, folder: Path) -> None:
    assert esp_file(f"{disk}p2", "/EFI/BOOT/BOOTX64.EFI")[:2] == b"MZ"
    cfg = esp_file(f"{disk}p2", "/boot/grub/grub.cfg").decode()
    assert cfg == grub.grub_cfg(blkid(f"{disk}p5")["UUID"])  # stook_core.boot's slot choice
    # The boot environment: stook_core.boot's initial state, both copies, unlocked.
    files = {name: esp_file(f"{disk}p2", f"/{name}") for name in EnvStore.files({})}
    loaded = stage(files, folder).load(validate=BootEnv.from_grubenv)
    assert loaded.consistent
    assert BootEnv.from_grubenv(loaded.env) == slots.initial_state(IMAGE_VERSION)
    with Path(disk).open("rb") as stream:
        mbr = stream.read(512)
        stream.seek(2048 * 512)
        core = stream.read(512)
    assert mbr[510:] == b"\x55\xaa" and mbr[0x5C:0x64] == (2048).to_bytes(8, "little")
    assert core != bytes(512)  # GRUB core.img in the BIOS boot partition
    size = image.stat().st_size
    with Path(f"{disk}p3").open("rb") as slot:
        assert (
            hashlib.sha256(slot.read(size)).digest() == hashlib.sha256(image.read_bytes()).digest()
        )


def test_create_on_one_shared_disk(image: Path, tmp_path: Path, mounted: Any) -> None:
    with loop_disks(tmp_path, [100 * GiB]) as (disk,):
        config = document(install_disk={"path": disk}, data_disk=None, persistent_size="32Gi")
        events = run_install(config, [disk], image)
        assert [e.step for e in events if e.phase == "finish"][-1] == "arm-boot"
        table = sgdisk_table(disk)
        assert [(n, code, name) for n, code, name, _ in table] == [
            (1, "EF02", "BIOS_BOOT"), (2, "EF00", "STOOK_EFI"), (3, "8300", "STOOK_A"),
            (4, "8300", "STOOK_B"), (5, "8300", "STOOK_STATE"), (6, "8300", "STOOK_DATA"),
        ]  # fmt: skip
        assert [size for *_, size in table][:5] == [2048, 1048576, 10485760, 10485760, 67108864]
        assert blkid(f"{disk}p2")["TYPE"] == "vfat" and blkid(f"{disk}p2")["LABEL"] == "STOOK_EFI"
        assert blkid(f"{disk}p3")["TYPE"] == "squashfs"
        assert blkid(f"{disk}p5")["LABEL"] == "STOOK_STATE"
        data = blkid(f"{disk}p6")
        assert (data["TYPE"], data["LABEL"]) == ("ext4", "STOOK_DATA")
        check_boot(disk, image, tmp_path / "esp")
        state = mounted(f"{disk}p5")
        unit = (state / "etc/systemd/system/var-lib-longhorn.mount").read_text()
        assert f"What=/dev/disk/by-uuid/{data['UUID']}" in unit
        assert (
            state / "etc/systemd/system/local-fs.target.wants/var-lib-longhorn.mount"
        ).is_symlink()
        check_state_files(state, mode="create")


def check_state_files(state: Path, mode: str) -> None:
    rke2 = yaml.safe_load((state / "etc/rancher/rke2/config.yaml").read_text())
    assert rke2["token"] == TOKEN
    assert (state / "etc/rancher/rke2/config.yaml").stat().st_mode & 0o777 == 0o600
    assert (state / "etc/hostname").read_text().strip() in ("node1", "node2")
    assert "stook:x:1000" in (state / "etc/passwd").read_text()
    for name in ("shadow", "gshadow"):  # as Debian ships them: 0640 root:shadow
        info = (state / "etc" / name).stat()
        assert (info.st_mode & 0o777, info.st_uid, info.st_gid) == (SHADOW_MODE, 0, SHADOW_GID)
    keys = state / "home/stook/.ssh/authorized_keys"
    assert keys.read_text().startswith("ssh-ed25519 ") and keys.stat().st_uid == 1000
    assert (
        "PasswordAuthentication no" in (state / "etc/ssh/sshd_config.d/50-stook.conf").read_text()
    )
    assert (state / "etc/systemd/network/10-mgmt-br.netdev").read_text().count("VLANFiltering=yes")
    copy = (state / "etc/stook/install-config.yaml").read_text()
    assert TOKEN not in copy and "<redacted>" in copy
    kube_vip = state / "var/lib/rancher/rke2/agent/pod-manifests/kube-vip.yaml"
    assert kube_vip.exists() == (mode == "create")
    if mode == "join":
        assert rke2["server"] == "https://10.0.100.10:9345"


def test_create_on_os_and_data_disk_then_rerun(image: Path, tmp_path: Path, mounted: Any) -> None:
    with loop_disks(tmp_path, [50 * GiB, 60 * GiB]) as (os_disk, data_disk):
        config = document(install_disk={"path": os_disk}, data_disk={"path": data_disk})
        run_install(config, [os_disk, data_disk], image)
        assert len(sgdisk_table(os_disk)) == 5
        data = blkid(data_disk)
        assert (data["TYPE"], data["LABEL"]) == ("ext4", "STOOK_DATA")
        # A rerun over the installed disks (consent is in the config) starts over cleanly.
        assert loop_machine([os_disk]).disks[0].has_stook_install
        run_install(config, [os_disk, data_disk], image)
        assert blkid(data_disk)["UUID"] != data["UUID"]
        check_boot(os_disk, image, tmp_path / "esp")
        check_state_files(mounted(f"{os_disk}p5"), mode="create")


def test_join(image: Path, tmp_path: Path, mounted: Any) -> None:
    with loop_disks(tmp_path, [50 * GiB, 60 * GiB]) as (os_disk, data_disk):
        config = document("join", install_disk={"path": os_disk}, data_disk={"path": data_disk})
        run_install(config, [os_disk, data_disk], image)
        check_boot(os_disk, image, tmp_path / "esp")
        state = mounted(f"{os_disk}p5")
        check_state_files(state, mode="join")
        assert (
            "PermanentMACAddress=3c:ec:ef:20:00:01"
            in (state / "etc/systemd/network/20-mgmt-bo-port0.network").read_text()
        )


def test_an_install_that_fails_before_the_end_leaves_a_disk_that_boots_no_slot(
    image: Path, tmp_path: Path
) -> None:
    """A complete install, then a rerun whose write-state step fails (a file that cannot be
    written into the state partition): neither the new install nor the old one may boot."""
    with loop_disks(tmp_path, [50 * GiB, 60 * GiB]) as (os_disk, data_disk):
        config = document(install_disk={"path": os_disk}, data_disk={"path": data_disk})
        run_install(config, [os_disk, data_disk], image)
        check_boot(os_disk, image, tmp_path / "esp")  # the old install boots
        machine = loop_machine([os_disk, data_disk])
        plan = build_plan(load_document(config), machine, image, workdir=tmp_path / "work")
        broken = NodeFile("/etc/hostname/cannot-be-a-folder", "x")
        steps = tuple(
            dataclasses.replace(s, files=(*s.files, broken)) if isinstance(s, WriteState) else s
            for s in plan.steps
        )
        events: list[Event] = []
        with pytest.raises(InstallFailed, match="step write-state failed"):
            broken_plan = dataclasses.replace(plan, steps=steps)
            execute(broken_plan, Consent.to(broken_plan), events.append, dry_run=False)
        assert [e.step for e in events if e.phase == "fail"] == ["write-state"]

        esp = f"{os_disk}p2"
        assert esp_file(esp, "/EFI/BOOT/BOOTX64.EFI")[:2] == b"MZ"  # GRUB itself is there
        cfg = esp_file(esp, "/boot/grub/grub.cfg").decode()
        assert grubcfg.MARKER not in cfg and "linux " not in cfg
        assert cfg == grub.incomplete_cfg()
        # No boot environment either: the old one went with the ESP's new filesystem.
        found = {name: esp_file_or_none(esp, f"/{name}") for name in EnvStore.files({})}
        assert found == dict.fromkeys(EnvStore.files({}))
        with pytest.raises(BootEnvUnreadableError):
            stage({}, tmp_path / "failed-esp").load(validate=BootEnv.from_grubenv)


def digest(image: Path) -> str:
    """SHA-256 over the data extents of a sparse disk image, each with its offset (holes read
    as zeros). Equal digests mean every byte is equal; any write the install makes changes
    the bytes or the extents. Only the data is read, so a disk of the size the layout needs
    hashes quickly. The sync first writes what a loop device still caches into the image."""
    os.sync()
    sha = hashlib.sha256()
    with image.open("rb") as stream:
        fd, offset, end = stream.fileno(), 0, image.stat().st_size
        while offset < end:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            stop = os.lseek(fd, start, os.SEEK_HOLE)
            stream.seek(start)
            sha.update(f"{start}:{stop}:".encode())
            while chunk := stream.read(min(1 << 22, stop - stream.tell())):
                sha.update(chunk)
            offset = stop
    return sha.hexdigest()


@pytest.mark.parametrize("case", ["bad-config", "no-consent"])
def test_refused_unattended_run_leaves_every_disk_byte_identical(
    case: str, image: Path, tmp_path: Path
) -> None:
    # skip_checks lets a small data disk pass the size checks; the install disk must still hold
    # the layout (skip_checks never waives that).
    with loop_disks(tmp_path, [12 * GiB, GiB]) as disks:
        for device in disks:  # something worth preserving at the start of each disk
            with Path(device).open("r+b") as stream:
                stream.write(os.urandom(1 << 20))
        images = [tmp_path / f"disk{index}.img" for index in range(len(disks))]  # loop_disks'
        before = [digest(i) for i in images]
        profile = tmp_path / "machine.json"
        profile.write_text(dump_profile(loop_machine(disks)))
        install_fields: dict[str, Any] = {
            "install_disk": {"path": disks[0]}, "data_disk": {"path": disks[1]},
            "skip_checks": True,
        }  # fmt: skip
        if case == "bad-config":
            install_fields["hostname"] = "Not_A_Hostname"
        else:
            install_fields["confirm_erase"] = None
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(document(**install_fields)))
        argv = ["--config", str(config), "--automatic", "--machine", str(profile),
                "--image", str(image)]  # fmt: skip
        expected = install_cli.EXIT_INVALID if case == "bad-config" else install_cli.EXIT_NO_CONSENT
        assert install_cli.main(argv) == expected
        assert [digest(i) for i in images] == before

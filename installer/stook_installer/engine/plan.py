"""An InstallConfig and a Machine become a Plan: typed steps made of primitive actions.

Building a plan touches nothing (it may read the OS image); ``Plan.describe()`` is what
--dry-run prints. Steps, in order: wipe every erased disk, partition the install disk (GPT,
layout of docs/install-engine.md), write the image to slot A and verify it (before the
filesystems, so their writeback does not slow it), make the filesystems, install GRUB for BIOS
and UEFI on the ESP (with an "install incomplete" grub.cfg), write the node's files into the
state partition, and last arm the boot: the boot environment and the A/B grub.cfg. Until that
last step the disk boots no slot, so an install that fails or loses power part way never comes
up as a half-configured node. A secret never appears in a step's description.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from stook_core.boot.slots import check_version
from stook_core.config.model import InstallConfig
from stook_core.hardware import Disk, Machine
from stook_core.layout import (
    BIOS_BOOT_SIZE,
    ESP_SIZE,
    LABEL_DATA,
    LABEL_ESP,
    LABEL_SLOT_A,
    LABEL_SLOT_B,
    LABEL_STATE,
    SLOT_SIZE,
)
from stook_core.osimage import image_size, read_os_version
from stook_core.problems import ConfigError, Problem
from stook_core.units import format_size
from stook_installer.engine import grub
from stook_installer.engine.actions import (
    Action,
    CopyImage,
    InstallBiosBoot,
    Mount,
    Run,
    Unmount,
    VerifyImage,
    WaitForDevices,
    WriteFiles,
)
from stook_installer.engine.files.network import network_files
from stook_installer.engine.files.rke2 import rke2_files
from stook_installer.engine.files.system import (
    chrony_files,
    config_copy,
    data_mount_files,
    identity_files,
    proxy_files,
)
from stook_installer.engine.files.users import Accounts, user_files
from stook_installer.engine.image import read_accounts
from stook_installer.engine.nodefile import NodeFile
from stook_installer.engine.preflight import (
    DiskChoice,
    check_machine,
    choose_disks,
    errors,
)

WORKDIR = Path("/run/stook-installer")
BIOS_BOOT_LABEL = "BIOS_BOOT"


class PreflightFailed(ConfigError):  # noqa: N818 (pairs with InstallFailed)
    """The machine cannot take this config; nothing was touched."""


# --- steps --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WipeDisk:
    """Erase signatures of the disk and its old partitions, and the partition table."""

    disk: Disk

    @property
    def name(self) -> str:
        return f"wipe-{self.disk.name}"

    @property
    def title(self) -> str:
        return f"erase {self.disk.path}"

    def actions(self) -> list[Action]:
        wipe = [Run(("wipefs", "--all", "--force", p.path)) for p in self.disk.partitions]
        return [
            *wipe,
            Run(("wipefs", "--all", "--force", self.disk.path)),
            Run(("sgdisk", "--zap-all", self.disk.path)),
            Run(("partprobe", self.disk.path)),
        ]


@dataclass(frozen=True)
class PartSpec:
    number: int
    label: str
    typecode: str
    size: int | None  # None: the rest of the disk


@dataclass(frozen=True)
class PartitionDisk:
    disk: Disk
    table: tuple[PartSpec, ...]

    @property
    def name(self) -> str:
        return f"partition-{self.disk.name}"

    @property
    def title(self) -> str:
        return f"partition {self.disk.path} (GPT)"

    def actions(self) -> list[Action]:
        argv = ["sgdisk", "--clear"]
        for part in self.table:
            end = f"+{part.size // 1024}K" if part.size else "0"
            argv += [f"--new={part.number}:0:{end}", f"--typecode={part.number}:{part.typecode}"]
            argv += [f"--change-name={part.number}:{part.label}"]
        paths = tuple(self.disk.partition_path(p.number) for p in self.table)
        return [
            Run((*argv, self.disk.path)),
            Run(("partprobe", self.disk.path)),
            WaitForDevices(paths),
        ]


@dataclass(frozen=True)
class MakeFilesystem:
    device: str
    fstype: str  # "vfat" | "ext4"
    label: str
    uuid: str

    @property
    def name(self) -> str:
        return f"format-{self.label.lower().replace('_', '-')}"

    @property
    def title(self) -> str:
        return f"make {self.fstype} {self.label} on {self.device}"

    def actions(self) -> list[Action]:
        argv: tuple[str, ...]
        if self.fstype == "vfat":
            argv = ("mkfs.vfat", "-F", "32", "-n", self.label, "-i", self.uuid, self.device)
        else:
            reserve = ["-m", "0"] if self.label == LABEL_DATA else []
            argv = (
                "mkfs.ext4",
                "-q",
                "-F",
                "-L",
                self.label,
                "-U",
                self.uuid,
                *reserve,
                self.device,
            )
        return [Run(argv)]


@dataclass(frozen=True)
class WriteImage:
    image: Path
    device: str

    name = "write-image"

    @property
    def title(self) -> str:
        return f"write the OS image to slot A ({self.device})"

    def actions(self) -> list[Action]:
        return [CopyImage(self.image, self.device), VerifyImage(self.image, self.device)]


def mcopy(esp: str, sources: tuple[Path, ...], target: str) -> Run:
    """Copy local files or folders onto the FAT at *esp* with mtools (no mount needed)."""
    return Run(
        ("env", "MTOOLS_SKIP_CHECK=1", "mcopy", "-s", "-o", "-i", esp, *map(str, sources), target)
    )


@dataclass(frozen=True)
class InstallBootloader:
    """GRUB for UEFI (EFI/BOOT/BOOTX64.EFI) and BIOS (boot code in the MBR, core.img in the
    BIOS boot partition), both finding the ESP by its volume id, and the "install incomplete"
    grub.cfg (grub.incomplete_cfg): GRUB boots no slot until ArmBoot.

    Built in *stage* with grub-mkimage, BIOS code embedded by biosboot.py, files copied onto
    the ESP with mtools, so no FAT mount is needed (see docs/install-engine.md)."""

    disk: Disk
    esp: str
    esp_volume_id: str
    stage: Path

    name = "install-grub"

    @property
    def title(self) -> str:
        return f"install GRUB for UEFI and BIOS on {self.disk.path}"

    def _mkimage(self, target: str, output: Path) -> Run:
        modules = (*grub.MODULES, *grub.TARGET_MODULES[target])
        return Run(
            (
                "grub-mkimage", "-O", target, "-o", str(output),
                "-c", str(self.stage / "early.cfg"), "-p", grub.GRUB_DIR, *modules,
            )
        )  # fmt: skip

    def actions(self) -> list[Action]:
        esp = self.stage / "esp"
        bios = self.stage / "i386-pc"
        early = NodeFile("/early.cfg", grub.early_cfg(self.esp_volume_id))
        incomplete = NodeFile(f"{grub.GRUB_DIR}/grub.cfg", grub.incomplete_cfg())
        return [
            Run(("rm", "-rf", str(self.stage))),
            WriteFiles(self.stage, (early,)),
            WriteFiles(esp, (incomplete,)),
            Run(("mkdir", "-p", str(esp / "EFI" / "BOOT"), str(bios))),
            self._mkimage("x86_64-efi", esp / "EFI" / "BOOT" / "BOOTX64.EFI"),
            self._mkimage("i386-pc", bios / "core.img"),
            Run(("cp", f"{grub.GRUB_LIB}/i386-pc/boot.img", str(bios))),
            InstallBiosBoot(
                self.disk.path, self.disk.partition_path(1), bios / "boot.img", bios / "core.img"
            ),
            mcopy(self.esp, (esp / "EFI", esp / "boot"), "::/"),
            Run(("sync", self.esp)),
        ]  # fmt: skip


@dataclass(frozen=True)
class WriteState:
    device: str
    mountpoint: Path
    files: tuple[NodeFile, ...]

    name = "write-state"

    @property
    def title(self) -> str:
        return f"write the node's configuration into {LABEL_STATE} ({self.device})"

    def actions(self) -> list[Action]:
        return [
            Mount(self.device, self.mountpoint),
            WriteFiles(self.mountpoint, self.files),
            Unmount(self.mountpoint),
        ]


@dataclass(frozen=True)
class ArmBoot:
    """The last step: the initial boot environment (slot A on trial holding *os_version*,
    stook_core.boot: two copies + locks), then the A/B grub.cfg over the "install incomplete"
    one, each flushed to the disk before the next. A power cut before the second copy is
    complete leaves the incomplete grub.cfg (or, mid-write, a truncated one whose menu entry,
    the file's last lines, is missing): GRUB boots no slot."""

    esp: str
    stage: Path
    state_uuid: str
    os_version: str

    name = "arm-boot"

    @property
    def title(self) -> str:
        return f"make the disk bootable: boot environment and A/B grub.cfg on the ESP ({self.esp})"

    def actions(self) -> list[Action]:
        env = tuple(
            NodeFile(f"/{path}", block) for path, block in grub.env_files(self.os_version).items()
        )
        cfg = NodeFile(f"{grub.GRUB_DIR}/grub.cfg", grub.grub_cfg(self.state_uuid))
        local = self.stage / grub.GRUB_DIR.lstrip("/")
        return [
            Run(("rm", "-rf", str(self.stage))),
            WriteFiles(self.stage, (*env, cfg)),
            mcopy(
                self.esp, tuple(self.stage / f.path.lstrip("/") for f in env), f"::{grub.GRUB_DIR}/"
            ),
            Run(("sync", self.esp)),
            mcopy(self.esp, (local / "grub.cfg",), f"::{grub.GRUB_DIR}/grub.cfg"),
            Run(("sync", self.esp)),
        ]


Step = (
    WipeDisk | PartitionDisk | MakeFilesystem | WriteImage | InstallBootloader | WriteState
    | ArmBoot
)  # fmt: skip


# --- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    config: InstallConfig = field(repr=False)
    machine: Machine = field(repr=False)
    image: Path
    disks: DiskChoice
    steps: tuple[Step, ...]
    warnings: tuple[Problem, ...] = ()

    @property
    def erased_disks(self) -> list[Disk]:
        return self.disks.erased

    def erase_notice(self) -> list[str]:
        lines = ["These disks will be erased; everything on them is lost:"]
        lines += [f"  {disk.summary()}" for disk in self.erased_disks]
        return lines

    def describe(self) -> list[str]:
        spec = self.config.install
        size = image_size(self.image)
        shown = format_size(size) if size is not None else "not present on this machine"
        lines = [
            f"Install plan: mode {spec.mode}, role {spec.role}, node {spec.hostname}",
            f"Machine: {self.machine.description or 'probed'} (firmware {self.machine.firmware})",
            *self.erase_notice(),
            f"OS image: {self.image} ({shown})",
        ]
        lines += [f"Warning: {problem}" for problem in self.warnings]
        lines.append("Steps:")
        for number, step in enumerate(self.steps, 1):
            lines.append(f"{number:2d}. {step.name}: {step.title}")
            lines += [f"      {line}" for a in step.actions() for line in a.describe()]
        return lines


def partition_table(config: InstallConfig, choice: DiskChoice) -> tuple[PartSpec, ...]:
    shared = choice.data is None
    state_size = config.install.persistent_size if shared else None
    table = [
        PartSpec(1, BIOS_BOOT_LABEL, "ef02", BIOS_BOOT_SIZE),
        PartSpec(2, LABEL_ESP, "ef00", ESP_SIZE),
        PartSpec(3, LABEL_SLOT_A, "8300", SLOT_SIZE),
        PartSpec(4, LABEL_SLOT_B, "8300", SLOT_SIZE),
        PartSpec(5, LABEL_STATE, "8300", state_size),
    ]
    if shared:
        table.append(PartSpec(6, LABEL_DATA, "8300", None))
    return tuple(table)


def node_files(
    config: InstallConfig, machine: Machine, accounts: Accounts, data_uuid: str
) -> tuple[NodeFile, ...]:
    spec = config.install
    return (
        *identity_files(spec),
        *user_files(spec, accounts),
        *network_files(spec, machine),
        *chrony_files(spec),
        *proxy_files(spec),
        *rke2_files(spec),
        *data_mount_files(data_uuid),
        config_copy(config),
    )


def _image_problems(image: Path, os_version: str) -> list[Problem]:
    problems = []
    size = image_size(image)
    if size is not None and size > SLOT_SIZE:
        problems.append(
            Problem(
                "image", f"is {format_size(size)}, larger than a slot ({format_size(SLOT_SIZE)})"
            )
        )
    try:
        check_version(os_version)
    except ValueError as error:
        problems.append(Problem("image", f"os-release: {error}"))
    return problems


def build_plan(
    config: InstallConfig, machine: Machine, image: Path, *, workdir: Path = WORKDIR
) -> Plan:
    """The plan for *config* on *machine*; PreflightFailed (touching nothing) on any error."""
    os_version = read_os_version(image)
    problems = check_machine(config, machine) + _image_problems(image, os_version)
    choice, _ = choose_disks(config, machine)
    if errors(problems) or choice is None:
        raise PreflightFailed(errors(problems) or problems, "hardware checks")
    disk = choice.install
    esp_id = secrets.token_hex(4).upper()
    table = partition_table(config, choice)
    part = {spec.label: disk.partition_path(spec.number) for spec in table}
    state_uuid, data_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    data_device = choice.data.path if choice.data else part[LABEL_DATA]
    steps: list[Step] = [WipeDisk(d) for d in choice.erased]
    steps += [
        PartitionDisk(disk, table),
        # The image first: no writeback of the new filesystems competes with it.
        WriteImage(image, part[LABEL_SLOT_A]),
        MakeFilesystem(part[LABEL_ESP], "vfat", LABEL_ESP, esp_id),
        MakeFilesystem(part[LABEL_STATE], "ext4", LABEL_STATE, state_uuid),
        MakeFilesystem(data_device, "ext4", LABEL_DATA, data_uuid),
        InstallBootloader(disk, part[LABEL_ESP], esp_id, workdir / "grub"),
        WriteState(
            part[LABEL_STATE],
            workdir / "state",
            node_files(config, machine, read_accounts(image), data_uuid),
        ),
        ArmBoot(part[LABEL_ESP], workdir / "arm", state_uuid, os_version),  # always last
    ]
    warnings = tuple(p for p in problems if p.severity != "error")
    return Plan(config, machine, image, choice, tuple(steps), warnings)

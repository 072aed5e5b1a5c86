"""Hardware checks of a valid InstallConfig against a Machine, before anything is touched.

Errors stop the install; warnings are shown and the operator (or ``skip_checks``) decides.
Size minimums come from ``stook_core.layout.NEEDS``; ``skip_checks`` makes them warnings, but
never a disk the layout cannot fit on, and never a disk in use (the live medium, a mounted or
held disk, swap): those are errors whatever door the config came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from stook_core.config.model import DiskMatch, InstallConfig
from stook_core.diskmatch import DiskMatchError, resolve
from stook_core.hardware import Disk, Machine
from stook_core.layout import DATA_MIN, NEEDS, PART_MIN
from stook_core.net.management import find_nic
from stook_core.problems import Problem
from stook_core.units import format_size

P = "install"
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class DiskChoice:
    """The disks an install uses. ``data`` is None when data shares the install disk."""

    install: Disk
    data: Disk | None = None
    wipe: tuple[Disk, ...] = field(default_factory=tuple)
    wipe_fields: tuple[str, ...] = field(default=(), compare=False)  # parallel to wipe

    @property
    def erased(self) -> list[Disk]:
        """Every disk the install erases, install disk first."""
        return [self.install, *([self.data] if self.data else []), *self.wipe]

    def erased_by_field(self) -> list[tuple[str, Disk]]:
        """Every erased disk with the config field that chose it."""
        found = [(f"{P}.install_disk", self.install)]
        if self.data is not None:
            found.append((f"{P}.data_disk", self.data))
        fields = self.wipe_fields or tuple(f"{P}.wipe_disks" for _ in self.wipe)
        return [*found, *zip(fields, self.wipe, strict=True)]


def _problem(
    path: str, message: str, *, severity: str = ERROR, value: str | None = None
) -> Problem:
    return Problem(path, message, value, severity)


def _resolve(path: str, match: DiskMatch, machine: Machine) -> tuple[Disk | None, list[Problem]]:
    """The disk *match* selects, refused when it is in use (whatever else the config says)."""
    try:
        disk = resolve(match, machine.disks)
    except DiskMatchError as error:
        return None, [_problem(path, str(error), value=str(match.criteria()))]
    if disk.busy is not None:
        return None, [_problem(path, f"{disk.busy}: it can never be erased or installed to")]
    return disk, []


def choose_disks(
    config: InstallConfig, machine: Machine
) -> tuple[DiskChoice | None, list[Problem]]:
    """Resolve install_disk, data_disk and wipe_disks; None and the problems when one fails."""
    spec = config.install
    problems: list[Problem] = []
    install, found = _resolve(f"{P}.install_disk", spec.install_disk, machine)
    problems += found
    data: Disk | None = None
    if spec.data_disk is not None and spec.data_disk != spec.install_disk:
        data, found = _resolve(f"{P}.data_disk", spec.data_disk, machine)
        problems += found
        if data is not None and install is not None and data.path == install.path:
            problems.append(
                _problem(
                    f"{P}.data_disk",
                    f"selects the install disk {data.path}; omit data_disk to share one disk",
                )
            )
    wipe: list[Disk] = []
    wipe_fields: list[str] = []
    for index, match in enumerate(spec.wipe_disks):
        disk, found = _resolve(f"{P}.wipe_disks[{index}]", match, machine)
        problems += found
        if disk is None:
            continue
        if disk.path in {d.path for d in (install, data) if d is not None}:
            problems.append(
                _problem(
                    f"{P}.wipe_disks[{index}]", f"selects {disk.path}, the install or data disk"
                )
            )
        elif disk.path not in {d.path for d in wipe}:
            wipe.append(disk)
            wipe_fields.append(f"{P}.wipe_disks[{index}]")
    if install is None or problems:
        return None, problems
    return DiskChoice(install, data, tuple(wipe), tuple(wipe_fields)), []


def _physical_checks(config: InstallConfig, choice: DiskChoice) -> Iterator[Problem]:
    """Disks the layout cannot fit on at all: errors even with skip_checks."""
    shared = choice.data is None
    need = NEEDS.physical_min(config.install.persistent_size if shared else None)
    if choice.install.size < need:
        yield _problem(
            f"{P}.install_disk",
            f"{choice.install.path} has {format_size(choice.install.size)}; its partitions "
            f"need at least {format_size(need)}, which skip_checks cannot waive",
        )
    if choice.data is not None and choice.data.size < PART_MIN:
        yield _problem(
            f"{P}.data_disk",
            f"{choice.data.path} has {format_size(choice.data.size)}; a data filesystem needs "
            f"at least {format_size(PART_MIN)}, which skip_checks cannot waive",
        )


def _size_checks(config: InstallConfig, choice: DiskChoice) -> Iterator[Problem]:
    spec = config.install
    physical = list(_physical_checks(config, choice))
    yield from physical
    impossible = {p.path for p in physical}
    severity = WARNING if spec.skip_checks else ERROR
    hint = "" if spec.skip_checks else " (install.skip_checks: true makes this a warning)"
    if choice.data is None:
        need = NEEDS.shared_disk_min(spec.persistent_size or 0)
        what = "OS, state and Longhorn data"
    else:
        need = NEEDS.os_disk_min
        what = "the OS and its state"
    if choice.install.size < need and f"{P}.install_disk" not in impossible:
        yield _problem(
            f"{P}.install_disk",
            f"{choice.install.path} has {format_size(choice.install.size)}; {what} need at "
            f"least {format_size(need)}{hint}",
            severity=severity,
        )
    if (
        choice.data is not None
        and choice.data.size < DATA_MIN
        and f"{P}.data_disk" not in impossible
    ):
        yield _problem(
            f"{P}.data_disk",
            f"{choice.data.path} has {format_size(choice.data.size)}; Longhorn data needs at "
            f"least {format_size(DATA_MIN)}{hint}",
            severity=severity,
        )
    for path, disk in choice.erased_by_field():
        if disk.removable:
            yield _problem(
                path, f"{disk.path} is a removable disk (a USB stick?)", severity=WARNING
            )


def _nic_checks(config: InstallConfig, machine: Machine) -> Iterator[Problem]:
    chosen: dict[str, int] = {}
    known = ", ".join(f"{n.name} ({n.mac})" for n in machine.nics) or "none"
    for index, ref in enumerate(config.install.management_interface.nics):
        path = f"{P}.management_interface.nics[{index}]"
        nic = find_nic(ref, machine.nics)
        if nic is None:
            yield _problem(path, f"{ref} is not a NIC of this machine (NICs: {known})")
            continue
        first = chosen.setdefault(nic.name, index)
        if first != index:
            yield _problem(path, f"{ref} is {nic.name}, already chosen as nics[{first}]")
        if not nic.link_up:
            yield _problem(
                path, f"{nic.name} has no link (cable not plugged in?)", severity=WARNING
            )
        if nic.permanent_mac is None:
            yield _problem(
                path,
                f"{nic.name} reports no permanent MAC: its bond port is matched by name, and "
                f"its current MAC {nic.mac} stands in for it",
                severity=WARNING,
            )
    primary = config.install.management_interface.bond.options.get("primary")
    if primary is not None and chosen and primary not in chosen:
        yield _problem(
            f"{P}.management_interface.bond.options.primary",
            f"{primary} is not one of the chosen NICs ({', '.join(chosen)})",
        )


def check_machine(config: InstallConfig, machine: Machine) -> list[Problem]:
    """Every hardware problem of installing *config* on *machine*; errors first."""
    choice, problems = choose_disks(config, machine)
    if choice is not None:
        problems += _size_checks(config, choice)
    problems += _nic_checks(config, machine)
    return sorted(problems, key=lambda p: (p.severity != ERROR, p.path, p.message))


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]

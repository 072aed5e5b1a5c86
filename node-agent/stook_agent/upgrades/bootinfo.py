"""What this node booted, as the OS publishes it (stook_agent.bootstatus: the BootStatus that
``stook-os mark-good`` / ``health-failed`` write to /run/stook/boot-status.json), as the
NodeUpgrade reports it; and the kernel's boot id, which tells a reboot happened."""

from __future__ import annotations

from pathlib import Path

from stook_agent.api.nodeupgrade import BootReport
from stook_agent.bootstatus import BootStatus, read_boot_status

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_report(status: BootStatus) -> BootReport:
    booted = status.slots.get(status.booted) if status.booted else None
    message = status.fell_back_reason or status.message
    if status.failure is not None:
        failure = status.failure
        message = f"{failure.check} failed; {failure.decision.action}: {failure.decision.reason}"
    return BootReport(
        slot=status.slot,
        version=status.version[:128],
        good=bool(booted and booted.good),
        trial=status.trial,
        fell_back=status.fell_back,
        health=status.health,
        failed_check=status.failure.check[:253] if status.failure is not None else None,
        message=message[:1024],
    )


def read_boot_report(path: Path | None = None) -> BootReport:
    """ "unknown" while the file is missing (the boot checks have not finished) or unreadable."""
    return boot_report(read_boot_status(path))


def read_boot_id(path: Path = BOOT_ID) -> str:
    try:
        return path.read_text().strip()[:64]
    except OSError:
        return "unknown"

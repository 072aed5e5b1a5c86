"""What the node side runs on the OS: ``stook-os write-slot`` (all its checks, its lock, its
progress lines), the reboot through systemd, and the failed boot's health-check lines from the
journal. Commands are settings, so tests point them at a loop-device node and a recorder."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HEALTH_UNITS = (
    "stook-health-state.service", "stook-health-network.service", "stook-health-sshd.service",
    "stook-health-agent.service", "stook-boot-failed.service",
)  # fmt: skip
WRITING = re.compile(r"^writing:\s*([0-9.]+)%")
WROTE = re.compile(r"^slot ([AB]) holds ([^\s;]+)")
WRITE_TIMEOUT = 3600.0
COMMAND_TIMEOUT = 60.0


class ActionError(Exception):
    """A command failed: the message names it, its exit status and the end of its stderr."""


@dataclass(frozen=True)
class Written:
    slot: str
    version: str


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:] if line.strip())


@dataclass(frozen=True)
class OsActions:
    stook_os: Sequence[str] = ("stook-os",)
    reboot_command: Sequence[str] = ("systemctl", "reboot")
    journalctl: Sequence[str] = ("journalctl",)

    def write_slot(self, image: Path, sha256: str, progress: Callable[[float], None]) -> Written:
        """Write *image* into the passive slot (not yet set next: a write that is stopped
        midway, or an upgrade aborted meanwhile, must not change the next boot); progress as a
        fraction."""
        command = [*self.stook_os, "write-slot", str(image), "--sha256", sha256, "--no-set-next"]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stderr is not None
        written: Written | None = None
        try:
            for line in process.stdout:
                if match := WRITING.match(line.strip()):
                    progress(min(1.0, float(match.group(1)) / 100))
                elif match := WROTE.match(line.strip()):
                    written = Written(match.group(1), match.group(2))
            stderr = process.stderr.read()
            code = process.wait(timeout=WRITE_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ActionError(
                f"{' '.join(command)} did not end within {WRITE_TIMEOUT:.0f} s"
            ) from None
        if code != 0 or written is None:
            raise ActionError(
                f"{' '.join(command)} failed (exit {code}): {_tail(stderr) or 'no message'}"
            )
        return written

    def set_next(self, slot: str) -> None:
        """Try *slot* on the next boot (right before the reboot)."""
        self._run([*self.stook_os, "set-next", slot])

    def reboot(self) -> None:
        self._run(list(self.reboot_command))

    def _run(self, command: list[str]) -> None:
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ActionError(f"{' '.join(command)} failed: {error}") from None
        if result.returncode != 0:
            raise ActionError(
                f"{' '.join(command)} failed (exit {result.returncode}): "
                f"{_tail(result.stderr) or 'no message'}"
            )

    def failed_checks(self, boot: int = -1) -> str:
        """The health-check failures of boot *boot* (-1: the one before this), from the
        persistent journal; "" when there are none or the journal cannot be read."""
        units = [arg for unit in HEALTH_UNITS for arg in ("-u", unit)]
        command = [*self.journalctl, "-b", str(boot), "-o", "cat", "--no-pager", *units]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        lines = [line.strip() for line in result.stdout.splitlines() if "stook-health:" in line]
        return "; ".join(dict.fromkeys(lines))[:1024]

"""What the node side runs on the OS: ``stook-os write-slot`` (all its checks, its lock, its
progress lines), the reboot through systemd, and the failed boot's health-check lines from the
journal. Commands are settings, so tests point them at a loop-device node and a recorder."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HEALTH_UNITS = (
    "stook-health-state.service", "stook-health-network.service", "stook-health-sshd.service",
    "stook-health-agent.service",
)  # fmt: skip
# The OnFailure= handler: one instance per failed unit (older images: one plain unit).
HANDLER_UNITS = ("stook-boot-failed@*.service", "stook-boot-failed.service")
# Mark-good fails as a consequence when a required check fails (it needs them all), and its
# handler may well speak first: it is named only when no check is.
MARK_GOOD_UNIT = "stook-boot-ok.service"
WRITING = re.compile(r"^writing:\s*([0-9.]+)%")
WROTE = re.compile(r"^slot ([AB]) holds ([^\s;]+)")
# What stook-os health-failed (the OnFailure= handler) says: the check that failed.
HANDLER_SAYS = re.compile(r"a required boot check failed \(([^)\s]+)\)")
WRITE_TIMEOUT = 3600.0
COMMAND_TIMEOUT = 60.0


class ActionError(Exception):
    """A command failed: the message names it, its exit status and the end of its stderr."""


@dataclass(frozen=True)
class Written:
    slot: str
    version: str


@dataclass(frozen=True)
class FailedChecks:
    """The required boot checks that failed in one boot, from its journal."""

    checks: tuple[str, ...] = ()  # units, e.g. stook-health-sshd.service
    lines: tuple[str, ...] = ()  # what they said ("stook-health: ssh.service is not active")

    @property
    def check(self) -> str | None:
        return self.checks[0] if self.checks else None

    def describe(self) -> str:
        """e.g. "stook-health-sshd.service failed: ssh.service is not active"; "" if none."""
        if not self.checks and not self.lines:
            return ""
        said = "; ".join(line.removeprefix("stook-health:").strip() for line in self.lines)
        names = ", ".join(self.checks) or "a boot check"
        return f"{names} failed" + (f": {said}" if said else "")


def parse_journal(output: str) -> FailedChecks:
    """``journalctl -o json`` lines of the health units -> the failed checks: the units that
    the OnFailure= handler names (it runs once per failed check), else the units that said
    ``stook-health: ...``; with what each said."""
    checks: dict[str, None] = {}
    speakers: dict[str, None] = {}
    lines: dict[str, None] = {}
    for raw in output.splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        message = entry.get("MESSAGE") if isinstance(entry, dict) else None
        if isinstance(message, list):  # journald sends non-UTF-8 messages as a byte array
            message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode(
                "utf-8", "replace"
            )
        if not isinstance(message, str):
            continue
        if handler := HANDLER_SAYS.search(message):
            if handler.group(1) != "unknown":  # an older handler without $MONITOR_UNIT
                checks[handler.group(1)] = None
        elif "stook-health:" in message:
            lines[message.strip()[:512]] = None
            unit = entry.get("_SYSTEMD_UNIT")
            if isinstance(unit, str) and unit in HEALTH_UNITS:
                speakers[unit] = None
    named = [unit for unit in checks or speakers if unit != MARK_GOOD_UNIT]
    return FailedChecks(tuple(named or checks), tuple(lines))


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

    def set_next(self, slot: str, attempts: int) -> None:
        """Try *slot* on the next boot, *attempts* times before GRUB falls back (right before
        the reboot)."""
        self._run([*self.stook_os, "set-next", slot, "--attempts", str(attempts)])

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

    def failed_checks(self, boot: int = -1) -> FailedChecks:
        """The health-check failures of boot *boot* (-1: the one before this), from the
        persistent journal; none when there are none or the journal cannot be read."""
        units = [arg for unit in (*HEALTH_UNITS, *HANDLER_UNITS) for arg in ("-u", unit)]
        command = [*self.journalctl, "-b", str(boot), "-o", "json", "--no-pager", *units]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return FailedChecks()
        return parse_journal(result.stdout)

"""Boot a disk image in QEMU and watch its serial console (the e2e tier).

- Accelerator: TCG. On these hosts /dev/kvm exists but nested KVM hangs after the firmware (a
  GRUB boot under KVM never reached its menu entry, while SeaBIOS alone ran fine), so a probe
  can pass and the real boot still hang. ``STOOK_QEMU_ACCEL=kvm`` opts in on hosts where KVM
  really works; even then a short SeaBIOS probe must pass first.
- The serial console goes to a log file; ``BootTimeoutError`` carries its tail and path, and
  the file stays in the test's tmp dir.
- Every run has a hard timeout and QEMU is always terminated (then killed) when the run ends.
- ``Machine(ssh_port=N)`` adds a virtio NIC on QEMU's user network (its DHCP server hands out
  10.0.2.15) with the guest's port 22 forwarded to 127.0.0.1:N; ``Ssh`` runs commands there
  with the OpenSSH client and a key (``wait_for_ssh`` until it answers).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

QEMU = "qemu-system-x86_64"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS.fd")
QEMU_MAC = "52:54:00:12:34:56"  # QEMU's default, set explicitly so configs can match it
Firmware = Literal["bios", "uefi"]
PROBE_SECONDS = 10.0
POLL_SECONDS = 0.2
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")


class BootTimeoutError(AssertionError):
    """The marker did not appear on the serial console in time (or QEMU exited first)."""


def clean(raw: bytes) -> str:
    """Serial output without terminal escape sequences and carriage returns."""
    return ANSI.sub(b"", raw).replace(b"\r", b"").decode("utf-8", "replace")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets QEMU flush the disk image; SIGKILL when it does not exit in 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """QEMU with *argv*, its own stdout/stderr in ``<log>.qemu``; always stopped on exit."""
    with log.with_suffix(".qemu").open("wb") as output:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        try:
            yield process
        finally:
            _stop(process)


def wait_for(
    process: subprocess.Popen[bytes],
    log: Path,
    marker: str,
    seconds: float,
    *,
    count: int = 1,
    unless: tuple[str, ...] = (),
) -> str:
    """The cleaned serial log once it contains *marker* (*count* times); BootTimeoutError
    otherwise, at once when one of the failure markers *unless* shows up."""
    deadline = time.monotonic() + seconds
    while True:
        text = clean(log.read_bytes()) if log.exists() else ""
        if text.count(marker) >= count:
            return text
        failed = next((bad for bad in unless if bad in text), None)
        exited = process.poll() is not None
        if failed or exited or time.monotonic() > deadline:
            why = f"QEMU exited ({process.returncode})" if exited else f"not within {seconds:.0f} s"
            if failed:
                why = f"{failed!r} came first"
            qemu_out = log.with_suffix(".qemu")
            raise BootTimeoutError(
                f"{marker!r} (x{count}) not on the serial console: {why}. Serial log {log} "
                f"ends with:\n{text[-3000:]}\nQEMU output ({qemu_out}):\n"
                f"{qemu_out.read_text()[-2000:]}"
            )
        time.sleep(POLL_SECONDS)


def _kvm_works() -> bool:
    """SeaBIOS without a disk reports 'No bootable device' on its debug port in time."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    with tempfile.TemporaryDirectory(prefix="stook-kvm-probe-") as folder:
        log = Path(folder) / "debugcon.log"
        argv = [
            QEMU, "-accel", "kvm", "-m", "64", "-nodefaults", "-display", "none",
            "-chardev", f"file,id=dbg,path={log}",
            "-device", "isa-debugcon,iobase=0x402,chardev=dbg",
        ]  # fmt: skip
        with running(argv, log) as process:
            try:
                wait_for(process, log, "No bootable device", PROBE_SECONDS)
            except BootTimeoutError:
                return False
    return True


@functools.cache
def accelerator() -> str:
    """tcg, or kvm when STOOK_QEMU_ACCEL=kvm asks for it and the probe passes."""
    if os.environ.get("STOOK_QEMU_ACCEL", "tcg") == "kvm" and _kvm_works():
        return "kvm"
    return "tcg"


@dataclass(frozen=True)
class Machine:
    """A small VM booting *disk* (raw) with *firmware*; files it needs live in *folder*."""

    disk: Path
    folder: Path
    firmware: Firmware = "bios"
    memory_mib: int = 256
    ssh_port: int | None = None
    mac: str = QEMU_MAC

    def argv(self, serial_log: Path) -> list[str]:
        argv = [
            QEMU, "-accel", accelerator(), "-m", str(self.memory_mib),
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", f"file:{serial_log}",
            "-drive", f"file={self.disk},format=raw,if=virtio,cache=writeback",
        ]  # fmt: skip
        if self.ssh_port is not None:
            argv += [
                "-smp", "2",
                "-nic", f"user,model=virtio-net-pci,mac={self.mac},"
                f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22",
            ]  # fmt: skip
        if self.firmware == "uefi":
            variables = self.folder / "OVMF_VARS.fd"
            if not variables.exists():
                shutil.copyfile(OVMF_VARS, variables)
            argv += [
                "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,unit=1,file={variables}",
            ]  # fmt: skip
        return argv

    @contextmanager
    def booted(self, serial_log: Path) -> Iterator[subprocess.Popen[bytes]]:
        """QEMU running (serial console in *serial_log*); stopped when the block ends."""
        serial_log.unlink(missing_ok=True)
        with running(self.argv(serial_log), serial_log) as process:
            yield process

    def boot_until(self, marker: str, serial_log: Path, seconds: float) -> str:
        """Boot, wait for *marker* on the serial console, stop QEMU; the cleaned log."""
        serial_log.unlink(missing_ok=True)
        with running(self.argv(serial_log), serial_log) as process:
            return wait_for(process, serial_log, marker, seconds)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serial_tail(log: Path, chars: int = 4000) -> str:
    text = clean(log.read_bytes()) if log.exists() else "(no serial output)"
    return f"Serial log {log} ends with:\n{text[-chars:]}"


@dataclass(frozen=True)
class Ssh:
    """The OpenSSH client against a guest's forwarded port, as *user* with *key*."""

    port: int
    key: Path
    user: str = "stook"
    host: str = "127.0.0.1"
    prefix: tuple[str, ...] = ()  # e.g. ip netns exec NAME: a guest on a namespace's network

    def argv(self, command: str) -> list[str]:
        return [
            *self.prefix, "ssh", "-i", str(self.key), "-p", str(self.port),
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", f"{self.user}@{self.host}", command,
        ]  # fmt: skip

    def run(self, command: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command), capture_output=True, text=True, timeout=timeout, check=False
        )

    def check(self, command: str, timeout: float = 60.0) -> str:
        """stdout of *command*; AssertionError with its output when it fails."""
        result = self.run(command, timeout)
        assert result.returncode == 0, (
            f"ssh {command!r} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
        return result.stdout

    def wait(self, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
        """Until a command runs over SSH; BootTimeoutError (with the serial log) otherwise."""
        deadline = time.monotonic() + seconds
        last = ""
        while True:
            if process.poll() is not None:
                raise BootTimeoutError(
                    f"QEMU exited ({process.returncode}) before SSH answered. {serial_tail(log)}"
                )
            try:
                result = self.run("true", timeout=30)
                if result.returncode == 0:
                    return
                last = result.stderr.strip()
            except subprocess.TimeoutExpired:
                last = "ssh timed out"
            if time.monotonic() > deadline:
                raise BootTimeoutError(
                    f"no SSH on {self.host}:{self.port} within {seconds:.0f} s (last: {last}). "
                    f"{serial_tail(log)}"
                )
            time.sleep(2)

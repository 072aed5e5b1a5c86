"""A whole node in QEMU for the e2e tier: qcow2 OS and data disks, two NICs on one switch, QMP.

- Disks are qcow2 files (sparse, 64 GiB each by default) with the serials the install configs
  match on (``STOOK-OS``, ``STOOK-DATA``); ``overlay()`` makes a copy-on-write child, so one
  install serves several scenarios without them seeing each other's changes.
- Both NICs hang off one QEMU hub whose uplink is the user-mode network (DHCP 10.0.2.15+, the
  host as 10.0.2.2, guest port 22 forwarded to 127.0.0.1:<ssh_port>): the bond's two ports see
  the same "switch", as in a rack. Separate user networks per NIC would send the SSH forward
  to whichever port the bond keeps as backup.
- ``reboot=True`` lets the guest reboot inside one QEMU run (a fallback needs several boots);
  otherwise QEMU exits when the guest reboots (-no-reboot) and the test decides what follows.
- QMP listens on ``<folder>/qmp.sock`` (``Qmp``; e.g. ``set_link`` pulls a NIC's cable);
  ``power_cut()`` is SIGKILL, not a shutdown.
"""

from __future__ import annotations

import functools
import http.server
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.qemu import QEMU, Ssh, accelerator, running, serial_tail

MAC1 = "52:54:00:5e:00:01"
MAC2 = "52:54:00:5e:00:02"
NIC_IDS = {MAC1: "nic1", MAC2: "nic2"}  # QEMU device ids, for QMP set_link
DISK_SIZE = "64G"
SSH_SECONDS = 420.0  # TCG: GRUB ~5 s, kernel + initramfs + systemd to sshd ~60-120 s
HEALTH_SECONDS = 240.0  # the boot checks wait for the DHCP lease on mgmt-br
REBOOT_SECONDS = 120


def qcow2(path: Path, size: str = DISK_SIZE, backing: Path | None = None) -> Path:
    argv = ["qemu-img", "create", "-q", "-f", "qcow2"]
    if backing is not None:
        argv += ["-b", str(backing), "-F", "qcow2"]
    subprocess.run([*argv, str(path), *([] if backing else [size])], check=True)
    return path


@dataclass(frozen=True)
class NodeDisks:
    os: Path
    data: Path

    def overlay(self, folder: Path) -> NodeDisks:
        """Copy-on-write children of both disks in *folder* (this pair is never written)."""
        folder.mkdir(parents=True, exist_ok=True)
        return NodeDisks(
            qcow2(folder / "os.qcow2", backing=self.os),
            qcow2(folder / "data.qcow2", backing=self.data),
        )

    @classmethod
    def blank(cls, folder: Path) -> NodeDisks:
        folder.mkdir(parents=True, exist_ok=True)
        return cls(qcow2(folder / "os.qcow2"), qcow2(folder / "data.qcow2"))


@dataclass(frozen=True)
class NodeVm:
    disks: NodeDisks
    folder: Path
    ssh_port: int
    memory_mib: int = 1536
    reboot: bool = False
    extra: tuple[str, ...] = ()  # more QEMU arguments (-kernel for a live boot, drives)
    read_only_drives: tuple[Path, ...] = ()  # raw files as extra virtio disks
    network: tuple[str, ...] | None = None  # NIC arguments instead of the user network's

    @property
    def qmp_socket(self) -> Path:
        return self.folder / "qmp.sock"

    def argv(self, serial_log: Path) -> list[str]:
        argv = [
            QEMU, "-accel", accelerator(), "-m", str(self.memory_mib), "-smp", "2",
            "-display", "none", "-monitor", "none", "-nodefaults", "-vga", "none",
            "-serial", f"file:{serial_log}",
            "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
            "-drive", f"file={self.disks.os},format=qcow2,if=none,id=os,cache=unsafe",
            "-device", f"virtio-blk-pci,drive=os,serial=STOOK-OS{self._disk_first}",
            "-drive", f"file={self.disks.data},format=qcow2,if=none,id=data,cache=unsafe",
            "-device", "virtio-blk-pci,drive=data,serial=STOOK-DATA",
        ]  # fmt: skip
        argv += self.network if self.network is not None else self._user_network()
        for index, drive in enumerate(self.read_only_drives):
            argv += [
                "-drive", f"file={drive},format=raw,if=none,id=ro{index},readonly=on",
                "-device", f"virtio-blk-pci,drive=ro{index},serial=STOOK-E2E-{index}",
            ]  # fmt: skip
        if not self.reboot:
            argv.append("-no-reboot")
        return [*argv, *self.extra]

    @property
    def _disk_first(self) -> str:
        """With its own NICs (a PXE boot) the OS disk boots first, the NICs' ROMs when it cannot
        (blank); -kernel boots take bootindex 0 themselves."""
        return ",bootindex=0" if self.network is not None else ""

    def _user_network(self) -> list[str]:
        """Both NICs on one hub whose uplink is the user network (SSH forwarded)."""
        return [
            "-netdev", f"user,id=uplink,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22",
            "-netdev", "hubport,id=hub-uplink,hubid=0,netdev=uplink",
            "-netdev", "hubport,id=port1,hubid=0",
            "-device", f"virtio-net-pci,netdev=port1,mac={MAC1},id={NIC_IDS[MAC1]}",
            "-netdev", "hubport,id=port2,hubid=0",
            "-device", f"virtio-net-pci,netdev=port2,mac={MAC2},id={NIC_IDS[MAC2]}",
        ]  # fmt: skip

    @contextmanager
    def booted(self, serial_log: Path) -> Iterator[subprocess.Popen[bytes]]:
        """QEMU running (serial console in *serial_log*); stopped when the block ends."""
        serial_log.unlink(missing_ok=True)
        self.qmp_socket.unlink(missing_ok=True)
        with running(self.argv(serial_log), serial_log) as process:
            yield process


def power_cut(process: subprocess.Popen[bytes]) -> None:
    """Pull the plug: SIGKILL, so QEMU flushes nothing on the guest's behalf."""
    process.send_signal(signal.SIGKILL)
    process.wait()


class Qmp:
    """A minimal QMP client (capabilities negotiated on connect)."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self._socket = socket.socket(socket.AF_UNIX)
        self._socket.settimeout(timeout)
        self._socket.connect(str(path))
        self._stream = self._socket.makefile("rw")
        self._read()  # the greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(self._stream.readline())
            if "event" not in message:
                return message

    def execute(self, command: str, **arguments: Any) -> Any:
        self._stream.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
        self._stream.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"QMP {command}: {reply['error']}")
        return reply.get("return")

    def close(self) -> None:
        self._stream.close()
        self._socket.close()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _FileServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (a Range 0-0 probe, a stopped download) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve_directory(folder: Path, host: str = "127.0.0.1") -> Iterator[int]:
    """HTTP on *host* serving *folder*; yields the port. On 127.0.0.1 a guest reaches it as
    10.0.2.2; on the host's own address (``host_address()``) this host reaches it too."""
    handler = functools.partial(_QuietFiles, directory=str(folder))
    server = _FileServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def host_address() -> str:
    """This host's address on its default route: QEMU's user network forwards a guest's
    connection to it, and the host (e.g. a controller's pre-check) reaches it as well, unlike
    10.0.2.2, which exists only inside the guest. No packet is sent (a UDP "connect")."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("198.51.100.1", 9))  # TEST-NET-2: reached by the default route only
        address: str = probe.getsockname()[0]
    return address


def wait_for_unit(ssh: Ssh, unit: str, seconds: float) -> str:
    """The unit's final state (active or failed) once it has one, or its state at the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        state = ssh.run(f"systemctl is-active {unit}").stdout.strip()
        if state in ("active", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(3)


def node_status(ssh: Ssh) -> dict[str, Any]:
    """``stook-os status --json`` on the node (root: the ESP is root's only)."""
    data: dict[str, Any] = json.loads(ssh.check("sudo -n stook-os status --json"))
    return data


def passwordless_sudo(ssh: Ssh, password: str) -> None:
    """The admin user has a password, so sudo asks for it (as installed); the tests' commands
    run non-interactively, so this proves the password works and then drops the prompt."""
    rule = "stook ALL=(ALL:ALL) NOPASSWD: ALL"
    ssh.check(
        f"echo '{password}' | sudo -S -p '' sh -c "
        f"'echo \"{rule}\" > /etc/sudoers.d/90-e2e && chmod 0440 /etc/sudoers.d/90-e2e'"
    )


def boot_healthy(ssh: Ssh, qemu: subprocess.Popen[bytes], log: Path, what: str = "boot") -> None:
    """Wait for SSH and for the boot checks to mark the slot good."""
    started = time.monotonic()
    ssh.wait(qemu, log, SSH_SECONDS)
    print(f"{what}: SSH after {time.monotonic() - started:.0f} s; serial log {log}")
    health = wait_for_unit(ssh, "stook-boot-ok.service", HEALTH_SECONDS)
    if health != "active":
        journal = ssh.run("sudo -n journalctl -b -u 'stook-*' --no-pager | tail -40").stdout
        raise AssertionError(f"{what}: boot checks {health}\n{journal}\n{serial_tail(log)}")


def reboot(ssh: Ssh, qemu: subprocess.Popen[bytes], log: Path) -> None:
    """Reboot the guest; QEMU (-no-reboot) exits."""
    ssh.run("sudo -n systemctl reboot")
    try:
        qemu.wait(timeout=REBOOT_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"the node did not reboot within {REBOOT_SECONDS} s. {serial_tail(log)}"
        ) from None

"""A second L2 segment for the network scenarios (tests/e2e/test_networks.py), and a small peer
VM on it.

- The node's NICs 3 and 4 hang off QEMU hub 1, whose uplink is a UDP socket netdev on
  127.0.0.1 pointing at the peer's: a switch with the node's two uplink ports and one peer port,
  separate from the management hub (NICs 1 and 2 and the user-mode network). UDP needs no
  connection, so either side may reboot.
- The peer is the node image's own kernel and initrd with one more cpio archive appended: an
  ``/init`` (busybox from the initrd) that loads virtio-net and 802.1Q and runs a shell on the
  serial port, which QEMU exposes as a Unix socket (``PeerVm.run`` sends a command and reads its
  output and exit status). Under TCG it is up in about 25 s with 512 MiB (the initrd unpacks
  to ~150 MB).
"""

from __future__ import annotations

import gzip
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.qemu import QEMU, accelerator, free_port, running

MAC3 = "52:54:00:5e:00:03"
MAC4 = "52:54:00:5e:00:04"
PEER_MAC = "52:54:00:5e:00:10"
VLAN_MODULES = ("net/llc/llc.ko", "net/802/stp.ko", "net/802/garp.ko", "net/802/mrp.ko",
                "net/8021q/8021q.ko")  # fmt: skip
PEER_SECONDS = 180.0
_RC = re.compile(r"__RC=(\d+)__")

PEER_INIT = """#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
modprobe virtio_pci 2>/dev/null; modprobe virtio_net
for module in {modules}; do insmod /lib/modules/$(uname -r)/kernel/$module; done
ip link set lo up
for dev in /sys/class/net/*; do ip link set "${{dev##*/}}" up; done
stty -F /dev/ttyS0 -echo
echo STOOK-PEER-READY
export PS1=
exec setsid sh -c 'exec sh </dev/ttyS0 >/dev/ttyS0 2>&1'
"""


@dataclass(frozen=True)
class Segment:
    """Two UDP endpoints on loopback: the node's hub and the peer's NIC."""

    node_port: int
    peer_port: int

    @classmethod
    def new(cls) -> Segment:
        return cls(free_port(), free_port())

    def node_args(self) -> tuple[str, ...]:
        """NICs 3 and 4 of the node on hub 1, uplinked to the segment."""
        return (
            "-netdev", f"socket,id=seg,udp=127.0.0.1:{self.peer_port},"
            f"localaddr=127.0.0.1:{self.node_port}",
            "-netdev", "hubport,id=hub-seg,hubid=1,netdev=seg",
            "-netdev", "hubport,id=port3,hubid=1",
            "-device", f"virtio-net-pci,netdev=port3,mac={MAC3},id=nic3",
            "-netdev", "hubport,id=port4,hubid=1",
            "-device", f"virtio-net-pci,netdev=port4,mac={MAC4},id=nic4",
        )  # fmt: skip

    def peer_args(self) -> tuple[str, ...]:
        return (
            "-netdev", f"socket,id=seg,udp=127.0.0.1:{self.node_port},"
            f"localaddr=127.0.0.1:{self.peer_port}",
            "-device", f"virtio-net-pci,netdev=seg,mac={PEER_MAC}",
        )  # fmt: skip


def _cpio_entry(name: str, mode: int, data: bytes, ino: int) -> bytes:
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    header = b"070701" + b"".join(f"{value:08x}".encode() for value in fields)
    entry = header + name.encode() + b"\0"
    entry += b"\0" * (-len(entry) % 4) + data
    return entry + b"\0" * (-len(entry) % 4)


def newc_archive(files: dict[str, tuple[int, bytes]]) -> bytes:
    """A cpio "newc" archive of *files* (path -> (mode, content)), directories made as needed."""
    entries, seen, ino = [], set(), 1
    for path in sorted(files):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in seen:
                seen.add(folder)
                entries.append(_cpio_entry(folder, 0o040755, b"", ino))
                ino += 1
        mode, data = files[path]
        entries.append(_cpio_entry(path, 0o100000 | mode, data, ino))
        ino += 1
    return b"".join(entries) + _cpio_entry("TRAILER!!!", 0, b"", 0)


def peer_initrd(image: Path, initrd: Path, out: Path) -> Path:
    """The node image's initrd plus a cpio with the peer's /init and the 802.1Q modules taken
    from the image itself (so they fit its kernel)."""
    listing = subprocess.run(
        ["unsquashfs", "-l", str(image), "usr/lib/modules"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    kernel = next(re.finditer(r"usr/lib/modules/([^/\s]+)/kernel", listing)).group(1)
    extract = out.parent / "peer-modules"
    paths = [f"usr/lib/modules/{kernel}/kernel/{module}" for module in VLAN_MODULES]
    subprocess.run(
        ["unsquashfs", "-q", "-f", "-d", str(extract), str(image), *paths],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    files = {path: (0o644, (extract / path).read_bytes()) for path in paths}
    init = PEER_INIT.format(modules=" ".join(VLAN_MODULES))
    files["init"] = (0o755, init.encode())
    base = initrd.read_bytes()
    padding = b"\0" * (-len(base) % 512)  # the kernel skips zeros between archives
    out.write_bytes(base + padding + gzip.compress(newc_archive(files)))
    return out


class SerialShell:
    """The peer's shell on its serial port (a QEMU chardev Unix socket)."""

    def __init__(self, path: Path, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                self._socket = socket.socket(socket.AF_UNIX)
                self._socket.connect(str(path))
                break
            except OSError:
                self._socket.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.output = ""

    def read_until(self, pattern: re.Pattern[str], seconds: float) -> re.Match[str]:
        deadline = time.monotonic() + seconds
        while (match := pattern.search(self.output)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{pattern.pattern!r} not on the peer's console: {self.output[-2000:]}"
                )
            self._socket.settimeout(left)
            try:
                chunk = self._socket.recv(4096)
            except TimeoutError:
                continue
            self.output += chunk.decode("utf-8", "replace").replace("\r", "")
        return match

    def run(self, command: str, seconds: float = 30.0) -> tuple[int, str]:
        """Exit status and output of *command* in the peer's shell."""
        self.output = ""
        self._socket.sendall(f"{command}; echo __RC=$?__\n".encode())
        match = self.read_until(_RC, seconds)
        return int(match.group(1)), self.output[: match.start()]

    def close(self) -> None:
        self._socket.close()


@dataclass(frozen=True)
class PeerVm:
    kernel: Path
    initrd: Path
    segment: Segment
    folder: Path

    @property
    def console(self) -> Path:
        return self.folder / "peer-console.sock"

    def argv(self, log: Path) -> list[str]:
        return [
            QEMU, "-accel", accelerator(), "-m", "512", "-smp", "1",
            "-display", "none", "-monitor", "none", "-nodefaults", "-vga", "none", "-no-reboot",
            "-kernel", str(self.kernel), "-initrd", str(self.initrd),
            "-append", "console=ttyS0 quiet loglevel=1 panic=-1",
            "-chardev", f"socket,id=console,path={self.console},server=on,wait=off,logfile={log}",
            "-serial", "chardev:console", *self.segment.peer_args(),
        ]  # fmt: skip

    @contextmanager
    def booted(self, log: Path) -> Iterator[SerialShell]:
        self.console.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
        with running(self.argv(log), log):
            shell = SerialShell(self.console)
            try:
                shell.read_until(re.compile("STOOK-PEER-READY"), PEER_SECONDS)
                shell.run("true")  # past busybox's banner
                yield shell
            finally:
                shell.close()

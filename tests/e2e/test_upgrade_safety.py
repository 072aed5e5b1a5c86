"""Scenarios d and c: an upgrade can never leave the node unbootable.

Both run on one overlay of the live-installed node (support/live_install.py), in this order, on
one first boot that marks slot A good; OS images reach ``stook-os write-slot`` as extra
read-only virtio disks (what a download would leave in a file): the real image and a broken one.

d. Power is cut (QEMU SIGKILLed) while the real image is being written to slot B: the node boots
   slot A and reports slot B empty. Writing again completes and sets B to be tried next. (That
   a written slot B then boots and is marked good is U1's, tests/e2e/test_upgrades.py, with
   another version.)
c. Then a broken image (the real kernel and initrd, but no root filesystem behind them: the
   initramfs cannot bring it up and panics; panic=N reboots) is written over slot B and set
   next. The node reboots on its own until B's attempts are spent, comes back on slot A and
   reports that B failed; A's /etc and /var are intact.

Sharing the node saves a first boot (c's) and d's boot of the re-written slot: ~4 min of TCG.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from stook_core.boot.slots import DEFAULT_ATTEMPTS
from support.live_install import PASSWORD, Installed
from support.node_vm import NodeVm, boot_healthy, node_status, passwordless_sudo, power_cut
from support.os_image import VERSION, os_image
from support.qemu import Ssh, free_port, serial_tail, wait_for
from support.tiers import require_commands

IMAGE_DRIVE = "/dev/disk/by-id/virtio-STOOK-E2E-0"  # NodeVm's first read-only drive: the image
BROKEN_DRIVE = "/dev/disk/by-id/virtio-STOOK-E2E-1"  # and its second: the broken one
BROKEN_VERSION = "0.2.0-broken"
FALLBACK_SECONDS = 900.0  # TCG: each broken boot ~30-60 s (GRUB, kernel, initramfs, panic=10)
WRITE_SECONDS = 600.0
PROGRESS = re.compile(r"writing:\s+([0-9.]+)%")


def broken_image(folder: Path) -> Path:
    """A squashfs with the real kernel and initrd and an os-release, and nothing else."""
    require_commands("mksquashfs")
    source = os_image().parent
    tree = folder / "broken-tree"
    (tree / "boot").mkdir(parents=True)
    (tree / "etc").mkdir()
    (tree / "boot" / "vmlinuz").write_bytes((source / f"vmlinuz-{VERSION}").read_bytes())
    (tree / "boot" / "initrd.img").write_bytes((source / f"initrd.img-{VERSION}").read_bytes())
    (tree / "etc" / "os-release").write_text(f'NAME="Stook OS"\nVERSION="{BROKEN_VERSION}"\n')
    image = folder / "broken.squashfs"
    subprocess.run(
        ["mksquashfs", str(tree), str(image), "-noappend", "-quiet", "-no-progress"], check=True
    )
    return image


def leave_marks(ssh: Ssh) -> str:
    """A marker in /etc (overlay upper) and /var (state bind) of the running slot."""
    mark = secrets.token_hex(8)
    ssh.check(f"echo {mark} | sudo -n tee /etc/stook-e2e /var/lib/stook-e2e >/dev/null && sync")
    return mark


def assert_marks(ssh: Ssh, mark: str) -> None:
    assert ssh.check("cat /etc/stook-e2e /var/lib/stook-e2e").split() == [mark, mark]


@dataclass
class Node:
    """The overlay: its VM, SSH, serial logs' folder, the QEMU of the current boot."""

    vm: NodeVm
    ssh: Ssh
    folder: Path  # serial logs (conftest shows their tails on a failure)
    stack: ExitStack  # stops each boot's QEMU at the module's end
    qemu: subprocess.Popen[bytes]
    log: Path  # the current boot's serial log
    mark: str  # left in slot A's /etc and /var on the first boot

    def boot(self, name: str) -> None:
        """Start QEMU again (after a power cut) with a serial log *name*."""
        self.log = self.folder / name
        self.qemu = self.stack.enter_context(self.vm.booted(self.log))


@pytest.fixture(scope="module")
def node(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The first boot, healthy (slot A good), sudo without a prompt, marks left."""
    folder = tmp_path_factory.mktemp("upgrade-safety")
    port = free_port()
    disks = installed.disks.overlay(folder / "disks")
    drives = (os_image(), broken_image(folder))
    vm = NodeVm(disks, folder, port, reboot=True, read_only_drives=drives)
    ssh = Ssh(port=port, key=installed.key)
    with ExitStack() as stack:
        log = folder / "boot1.log"
        qemu = stack.enter_context(vm.booted(log))
        boot_healthy(ssh, qemu, log, "first boot")
        passwordless_sudo(ssh, PASSWORD)
        yield Node(vm, ssh, folder, stack, qemu, log, leave_marks(ssh))


def test_d_a_power_cut_while_writing_slot_b_keeps_slot_a(node: Node) -> None:
    ssh = node.ssh
    writer = subprocess.Popen(
        ssh.argv(f"sudo -n stook-os write-slot {IMAGE_DRIVE}"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert writer.stdout is not None
    seen: list[str] = []
    for line in writer.stdout:
        seen.append(line)
        progress = PROGRESS.search(line)
        if progress and 0 < float(progress.group(1)) < 100:
            power_cut(node.qemu)
            break
    writer.kill()
    writer.wait()
    assert node.qemu.returncode is not None, f"the write ended before the power cut: {seen}"
    print(f"power cut after: {seen[-1].strip()}")

    node.boot("boot2.log")
    boot_healthy(ssh, node.qemu, node.log, "boot after the power cut")
    status = node_status(ssh)
    assert "Stook: chose slot A" in node.log.read_text(errors="replace")
    assert status["slot"] == "A" and status["fell_back"] is False, status
    assert status["slots"]["B"] == {"good": False, "attempts_left": 0, "version": ""}, status
    assert_marks(ssh, node.mark)
    out = ssh.check(f"sudo -n stook-os write-slot {IMAGE_DRIVE}", timeout=WRITE_SECONDS)
    assert "written and read back" in out, out
    status = node_status(ssh)
    assert status["next_boot"] == "B" and status["next_boot_trial"] is True, status
    assert status["slots"]["B"] == {
        "good": False,
        "attempts_left": DEFAULT_ATTEMPTS,
        "version": VERSION,
    }, status
    assert status["slots"]["A"]["good"] is True, status


def test_c_a_broken_slot_b_falls_back_to_slot_a(node: Node) -> None:
    ssh, qemu, log = node.ssh, node.qemu, node.log
    out = ssh.check(f"sudo -n stook-os write-slot {BROKEN_DRIVE}", timeout=WRITE_SECONDS)
    assert f"slot B holds {BROKEN_VERSION} and will be tried on the next boot" in out, out
    before = log.read_text(errors="replace").count("Stook: chose slot A")
    ssh.run("sudo -n systemctl reboot")
    # The node alone: B once per attempt (each ends in a panic and a reboot), then A.
    text = wait_for(qemu, log, "Stook: chose slot A", FALLBACK_SECONDS, count=before + 1)
    after_upgrade = text.split("Stook: chose slot A")[before]
    assert after_upgrade.count("Stook: chose slot B") == DEFAULT_ATTEMPTS, serial_tail(log)
    assert "stook-initramfs: FAILED" in after_upgrade, serial_tail(log)
    boot_healthy(ssh, qemu, log, "boot after the fallback")
    status = node_status(ssh)
    assert status["slot"] == "A" and status["fell_back"] is True, status
    assert status["message"].startswith("FALLBACK: slot B was tried"), status
    assert status["slots"]["B"] == {
        "good": False,
        "attempts_left": 0,
        "version": BROKEN_VERSION,
    }, status
    assert status["slots"]["A"]["good"] is True, status
    assert "FALLBACK" in ssh.check("sudo -n stook-os status")
    published = json.loads(ssh.check("cat /run/stook/boot-status.json"))  # for the agent
    assert (published["slot"], published["fell_back"]) == ("A", True), published
    assert_marks(ssh, node.mark)

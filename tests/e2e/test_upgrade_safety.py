"""Scenarios c and d: an upgrade can never leave the node unbootable.

Both start from an overlay of the live-installed node (support/live_install.py), let its first
boot mark slot A good, and hand an OS image to ``stook-os write-slot`` as an extra read-only
virtio disk (what a download would leave in a file).

c. A broken image (the real kernel and initrd, but no root filesystem behind them: the
   initramfs cannot bring it up and panics; panic=N reboots) is written to slot B and set next.
   The node reboots on its own until B's attempts are spent, comes back on slot A and reports
   that B failed; A's /etc and /var are intact.
d. Power is cut (QEMU SIGKILLed) while the real image is being written to slot B: the node boots
   slot A and reports slot B empty. Writing again completes, and the node then boots slot B
   and marks it good: the upgrade path itself works.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from pathlib import Path

from stook_core.boot.slots import DEFAULT_ATTEMPTS
from support.live_install import PASSWORD, Installed
from support.node_vm import NodeVm, boot_healthy, node_status, passwordless_sudo, power_cut, reboot
from support.os_image import VERSION, os_image
from support.qemu import Ssh, free_port, serial_tail, wait_for
from support.tiers import require_commands

IMAGE_DRIVE = "/dev/disk/by-id/virtio-STOOK-E2E-0"  # NodeVm's first read-only drive
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


def test_c_a_broken_slot_b_falls_back_to_slot_a(installed: Installed, tmp_path: Path) -> None:
    port = free_port()
    image = broken_image(tmp_path)
    disks = installed.disks.overlay(tmp_path / "disks")
    vm = NodeVm(disks, tmp_path, port, reboot=True, read_only_drives=(image,))
    ssh = Ssh(port=port, key=installed.key)
    log = tmp_path / "serial.log"
    with vm.booted(log) as qemu:
        boot_healthy(ssh, qemu, log, "first boot")
        passwordless_sudo(ssh, PASSWORD)
        mark = leave_marks(ssh)
        out = ssh.check(f"sudo -n stook-os write-slot {IMAGE_DRIVE}", timeout=WRITE_SECONDS)
        assert f"slot B holds {BROKEN_VERSION} and will be tried on the next boot" in out, out
        ssh.run("sudo -n systemctl reboot")
        # The node alone: B once per attempt (each ends in a panic and a reboot), then A.
        text = wait_for(qemu, log, "Stook: chose slot A", FALLBACK_SECONDS, count=2)
        after_upgrade = text.split("Stook: chose slot A")[1]
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
        assert_marks(ssh, mark)


def test_d_a_power_cut_while_writing_slot_b_keeps_slot_a(
    installed: Installed, tmp_path: Path
) -> None:
    port = free_port()
    disks = installed.disks.overlay(tmp_path / "disks")
    vm = NodeVm(disks, tmp_path, port, read_only_drives=(os_image(),))
    ssh = Ssh(port=port, key=installed.key)
    first, second, third = (tmp_path / f"boot{n}.log" for n in (1, 2, 3))
    with vm.booted(first) as qemu:
        boot_healthy(ssh, qemu, first, "first boot")
        passwordless_sudo(ssh, PASSWORD)
        mark = leave_marks(ssh)
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
                power_cut(qemu)
                break
        writer.kill()
        writer.wait()
        assert qemu.returncode is not None, f"the write ended before the power cut: {seen}"
    print(f"power cut after: {seen[-1].strip()}")

    with vm.booted(second) as qemu:
        boot_healthy(ssh, qemu, second, "boot after the power cut")
        status = node_status(ssh)
        assert "Stook: chose slot A" in second.read_text(errors="replace")
        assert status["slot"] == "A" and status["fell_back"] is False, status
        assert status["slots"]["B"] == {"good": False, "attempts_left": 0, "version": ""}, status
        assert_marks(ssh, mark)
        out = ssh.check(f"sudo -n stook-os write-slot {IMAGE_DRIVE}", timeout=WRITE_SECONDS)
        assert "written and read back" in out, out
        reboot(ssh, qemu, second)

    with vm.booted(third) as qemu:
        boot_healthy(ssh, qemu, third, "boot of the written slot B")
        status = node_status(ssh)
        assert status["slot"] == "B" and status["fell_back"] is False, status
        assert status["slots"]["B"]["good"] is True and status["slots"]["A"]["good"] is True
        assert_marks(ssh, mark)
        after = node_status(ssh)
        assert after["next_boot"] == "B", after

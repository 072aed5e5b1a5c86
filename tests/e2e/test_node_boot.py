"""An engine-installed disk boots into a working node: the real OS image (iso-build/
build-rootfs.sh) installed onto a loop disk, then booted in QEMU (TCG, SeaBIOS, user network):
GRUB picks slot A, the initramfs (boot=stook) mounts it read-only with /etc, /var, /home...
from the state partition, DHCP on mgmt-br, SSH with the installed key, the boot checks pass and
``stook-os mark-good`` runs; after a reboot /etc changes, machine-id and the SSH host key are
still there. Serial logs stay in the test's tmp dir and their tails are in every failure."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from stook_core.config.validate import load_document
from stook_core.hardware import Nic, probe
from stook_installer.engine import install
from support.install_engine import document, loop_disks
from support.os_image import VERSION, os_image
from support.qemu import QEMU_MAC, BootTimeoutError, Machine, Ssh, free_port, serial_tail
from support.tiers import require_commands, require_root

GiB = 1 << 30
DISK = 100 * GiB  # sparse; OS and Longhorn data share it (layout minimum ~93 GiB)
SSH_SECONDS = 300.0  # TCG: GRUB ~5 s, kernel + initramfs + systemd to sshd ~60-120 s
HEALTH_SECONDS = 240.0  # the boot checks wait for the DHCP lease on mgmt-br
TOOLS = ("losetup", "sgdisk", "partprobe", "wipefs", "mkfs.ext4", "mkfs.vfat", "unsquashfs",
         "grub-mkimage", "mcopy", "sfdisk", "ssh", "ssh-keygen",
         "qemu-system-x86_64")  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(disk image, private key): the engine's install of the real OS image, detached."""
    require_root()
    require_commands(*TOOLS)
    image = os_image()
    folder = tmp_path_factory.mktemp("node")
    key = folder / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with loop_disks(folder, [DISK]) as (os_disk,):
        config = document(
            install_disk={"path": os_disk},
            data_disk=None,
            persistent_size="32Gi",
            password=None,
            ssh_authorized_keys=[key.with_suffix(".pub").read_text().strip()],
            management_interface={"nics": [QEMU_MAC], "method": "dhcp"},
            dns_servers=["10.0.2.3"],
            ntp_servers=None,
        )
        nic = Nic(name="ens3", mac=QEMU_MAC, link_up=True, speed_mbps=1000)
        machine = probe([os_disk], description=f"loop device {os_disk}")
        machine = machine.model_copy(update={"nics": [nic]})
        install(load_document(config), machine, image, print, dry_run=False)
    return folder / "disk0.img", key


def wait_for_unit(ssh: Ssh, unit: str, log: Path, seconds: float) -> str:
    """The unit's final state (active or failed) once it has one."""
    deadline = time.monotonic() + seconds
    while True:
        state = ssh.run(f"systemctl is-active {unit}").stdout.strip()
        if state in ("active", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(3)


def node_status(ssh: Ssh) -> dict[str, object]:
    data: dict[str, object] = json.loads(ssh.check("sudo -n stook-os status --json"))
    return data


def test_installed_disk_boots_a_healthy_node_that_keeps_its_state(
    installed: tuple[Path, Path],
) -> None:
    disk, key = installed
    port = free_port()
    vm = Machine(disk=disk, folder=disk.parent, memory_mib=1024, ssh_port=port)
    ssh = Ssh(port=port, key=key)
    marker = secrets.token_hex(8)
    first, second = disk.parent / "boot1.log", disk.parent / "boot2.log"

    with vm.booted(first) as qemu:
        started = time.monotonic()
        ssh.wait(qemu, first, SSH_SECONDS)
        print(f"boot 1: SSH after {time.monotonic() - started:.0f} s (TCG); serial log {first}")
        health = wait_for_unit(ssh, "stook-boot-ok.service", first, HEALTH_SECONDS)
        journal = ssh.run("sudo -n journalctl -b -u 'stook-*' --no-pager | tail -40").stdout
        assert health == "active", f"boot checks: {health}\n{journal}\n{serial_tail(first)}"

        assert ssh.check("findmnt -n -o FSTYPE /").strip() == "squashfs"
        assert "ro" in ssh.check("findmnt -n -o OPTIONS /").strip().split(",")
        assert ssh.run("sudo -n touch /usr/stook-e2e").returncode != 0, "/ is writable"
        assert ssh.check("findmnt -n -o FSTYPE /etc").strip() == "overlay"
        assert ssh.check("findmnt -n -o TARGET /boot/efi").strip() == "/boot/efi"
        assert "mgmt-br" in ssh.check("ip -4 -o addr show scope global")

        status = node_status(ssh)
        assert status["slot"] == "A" and status["version"] == VERSION, status
        assert status["fell_back"] is False, status
        assert status["slots"] == {
            "A": {"good": True, "attempts_left": 3, "version": VERSION},
            "B": {"good": False, "attempts_left": 0, "version": ""},
        }, status
        published = json.loads(ssh.check("cat /run/stook/boot-status.json"))
        assert (published["slot"], published["version"]) == ("A", VERSION), published

        machine_id = ssh.check("cat /etc/machine-id").strip()
        assert len(machine_id) == 32, machine_id
        host_key = ssh.check("cat /etc/ssh/ssh_host_ed25519_key.pub").split()[1]
        ssh.check(f"echo {marker} | sudo -n tee /etc/stook-e2e >/dev/null && sync")
        ssh.run("sudo -n systemctl reboot")
        try:  # -no-reboot: QEMU exits when the guest reboots
            qemu.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the node did not reboot within 120 s. {serial_tail(first)}")

    assert "Stook: chose slot A" in first.read_text(errors="replace")
    with vm.booted(second) as qemu:
        try:
            ssh.wait(qemu, second, SSH_SECONDS)
        except BootTimeoutError as error:
            pytest.fail(f"second boot: {error}")
        assert ssh.check("cat /etc/stook-e2e").strip() == marker
        assert ssh.check("cat /etc/machine-id").strip() == machine_id
        assert ssh.check("cat /etc/ssh/ssh_host_ed25519_key.pub").split()[1] == host_key
        health = wait_for_unit(ssh, "stook-boot-ok.service", second, HEALTH_SECONDS)
        assert health == "active", f"boot checks: {health}\n{serial_tail(second)}"
        status = node_status(ssh)
        assert (status["slot"], status["fell_back"]) == ("A", False), status

"""The e2e node (scenario a's install): one unattended live install, shared as copy-on-write
overlays by the scenarios that boot an installed node (tests/e2e/conftest.py: ``installed``).

The install is what a PXE boot does: QEMU boots the image's own kernel and initrd with
``boot=live fetch=http://10.0.2.2:<port>/filesystem.squashfs`` (live-boot downloads the OS image
from an HTTP server on this host) and ``stook.install.config_url=`` pointing at the install
config on the same server; the installer erases the blank OS and data disks, installs, and
reboots (QEMU exits: -no-reboot). Its serial log stays in the fixture's folder and its tail is in
every failure.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.install_engine import document
from support.node_vm import MAC1, MAC2, NodeDisks, NodeVm, serve_directory
from support.os_image import VERSION, os_image
from support.qemu import QEMU, BootTimeoutError, free_port, serial_tail, wait_for
from support.tiers import require_commands, require_root

HOSTNAME = "stook-e2e"
PASSWORD = "e2e-Password-never-over-ssh"  # the console password; SSH must refuse it
VIP = "10.0.2.100"
INSTALL_SECONDS = 1500.0  # TCG: live boot ~60 s, image download + install + read-back ~120 s


@dataclass(frozen=True)
class Installed:
    disks: NodeDisks  # never booted: scenarios boot overlays of them
    key: Path  # the SSH key the config authorised
    token: str  # the cluster token the config carries


def install_config(public_key: str) -> dict[str, Any]:
    """The first node of a new cluster: OS and data disks by serial, both NICs bonded."""
    return document(
        "create",
        hostname=HOSTNAME,
        password=PASSWORD,
        ssh_authorized_keys=[public_key],
        vip=VIP,
        install_disk={"serial": "STOOK-OS"},
        data_disk={"serial": "STOOK-DATA"},
        management_interface={
            "nics": [MAC1, MAC2],
            "bond": {"mode": "active-backup", "miimon": 100},
            "method": "dhcp",
        },
        dns_servers=["10.0.2.3"],
        ntp_servers=None,
        after_install="reboot",
    )


def live_install(folder: Path) -> Installed:
    """Install into blank disks in *folder*; the scenarios boot overlays of them."""
    require_root()
    require_commands(QEMU, "qemu-img", "ssh", "ssh-keygen")
    image = os_image()
    kernel = image.parent / f"vmlinuz-{VERSION}"
    initrd = image.parent / f"initrd.img-{VERSION}"
    key = folder / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    served = folder / "http"
    served.mkdir()
    (served / "filesystem.squashfs").symlink_to(image)
    config = install_config(key.with_suffix(".pub").read_text().strip())
    (served / "node.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    disks = NodeDisks.blank(folder / "disks")
    log = folder / "install-serial.log"
    with serve_directory(served) as port:
        server = f"http://10.0.2.2:{port}"
        cmdline = (
            f"boot=live fetch={server}/filesystem.squashfs console=ttyS0,115200 "
            f"stook.install.automatic stook.install.confirm_erase "
            f"stook.install.config_url={server}/node.yaml"
        )
        live = ("-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline)
        vm = NodeVm(disks, folder, free_port(), memory_mib=2048, extra=live)
        started = time.monotonic()
        with vm.booted(log) as qemu:
            try:
                failed = tuple(f"installer exited with status {rc}" for rc in range(1, 5))
                wait_for(qemu, log, "Install complete", INSTALL_SECONDS, unless=failed)
                qemu.wait(timeout=180)  # after_install: reboot, and QEMU runs with -no-reboot
            except (BootTimeoutError, subprocess.TimeoutExpired) as error:
                pytest.fail(f"the unattended live install failed: {error}\n{serial_tail(log)}")
        seconds = time.monotonic() - started
    print(f"live install: {seconds:.0f} s under TCG (serial log {log})")
    return Installed(disks, key, str(config["install"]["token"]))

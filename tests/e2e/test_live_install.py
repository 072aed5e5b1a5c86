"""Scenario a: a node installed unattended from the live kernel (support/live_install.py: PXE-style
fetch of the OS image, config from an HTTP server on this host) boots from its disk as
configured, checked with testinfra over SSH (including a bond failover when QMP pulls the
active port's cable), and keeps its state across a reboot."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

import stook_node_checks as checks
import testinfra

from support.live_install import HOSTNAME, PASSWORD, VIP, Installed
from support.node_vm import (
    MAC1,
    MAC2,
    NIC_IDS,
    NodeVm,
    Qmp,
    boot_healthy,
    node_status,
    passwordless_sudo,
    reboot,
)
from support.os_image import VERSION
from support.qemu import Ssh, free_port

SSH_OPTIONS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"


def password_login(port: int, folder: Path) -> subprocess.CompletedProcess[str]:
    """ssh as stook with the correct password and nothing else (no key, no agent)."""
    askpass = folder / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{PASSWORD}'\n")
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    env.pop("SSH_AUTH_SOCK", None)
    argv = [
        "ssh", "-p", str(port), *SSH_OPTIONS.split(), "-o", "PubkeyAuthentication=no",
        "-o", "PreferredAuthentications=password,keyboard-interactive",
        "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10", "stook@127.0.0.1", "true",
    ]  # fmt: skip
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        check=False,
    )  # fmt: skip


def installed_expectation(installed: Installed) -> checks.Expected:
    """What support/live_install.py's config says (the checks verify.yml makes, too)."""
    return checks.Expected(
        hostname=HOSTNAME,
        macs=(MAC1, MAC2),
        token_sha256=checks.Expected.token_digest(installed.token),
        vip=VIP,
        address="10.0.2.15/24",
        version=VERSION,
        data_disk_serial="STOOK-DATA",
    )


def active_slave(host: testinfra.host.Host) -> str:
    text = host.file("/proc/net/bonding/mgmt-bo").content_string
    return text.split("Currently Active Slave: ")[1].split()[0]


def test_live_installed_node_is_configured_and_keeps_its_state(
    installed: Installed, tmp_path: Path
) -> None:
    port = free_port()
    vm = NodeVm(installed.disks.overlay(tmp_path / "disks"), tmp_path, port)
    ssh = Ssh(port=port, key=installed.key)
    host = testinfra.get_host(
        f"ssh://stook@127.0.0.1:{port}",
        ssh_identity_file=str(installed.key),
        ssh_extra_args=SSH_OPTIONS,
        controlpersist=0,
        sudo=True,
    )
    marker = secrets.token_hex(8)
    first, second = tmp_path / "boot1.log", tmp_path / "boot2.log"

    with vm.booted(first) as qemu:
        boot_healthy(ssh, qemu, first, "first boot")
        assert ssh.run("sudo -n true").returncode != 0, "sudo without the password"
        passwordless_sudo(ssh, PASSWORD)
        status = node_status(ssh)
        assert (status["slot"], status["version"], status["fell_back"]) == ("A", VERSION, False)

        expected = installed_expectation(installed)
        checks.identity(host, expected)
        checks.immutable_root(host)
        bonding = checks.management_network(host, expected)

        # Pull the active port's cable (QMP set_link): the bond fails over, SSH keeps working.
        active = bonding.split("Currently Active Slave: ")[1].split()[0]
        active_mac = host.file(f"/sys/class/net/{active}/bonding_slave/perm_hwaddr")
        qmp = Qmp(vm.qmp_socket)
        try:
            qmp.execute("set_link", name=NIC_IDS[active_mac.content_string.strip()], up=False)
            deadline = time.monotonic() + 30
            while active in (now := active_slave(host)) and time.monotonic() < deadline:
                time.sleep(1)
            assert now != active, f"no failover from {active}"
            assert ssh.check("hostname").strip() == HOSTNAME
        finally:
            qmp.close()

        checks.data_disk(host, expected)
        checks.rke2_config(host, expected)
        assert "not installed" in host.file("/usr/lib/stook/kubernetes").content_string

        refused = password_login(port, tmp_path)
        assert refused.returncode == 255, refused
        assert "Permission denied (publickey)" in refused.stderr, refused.stderr

        machine_id = host.file("/etc/machine-id").content_string.strip()
        host_key = host.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[1]
        host.check_output(f"sh -c 'echo {marker} > /etc/stook-e2e && sync'")
        reboot(ssh, qemu, first)

    with vm.booted(second) as qemu:
        boot_healthy(ssh, qemu, second, "second boot")
        status = node_status(ssh)
        assert (status["slot"], status["fell_back"]) == ("A", False), status
        assert host.file("/etc/stook-e2e").content_string.strip() == marker
        assert host.file("/etc/machine-id").content_string.strip() == machine_id
        assert host.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[1] == host_key
        assert host.mount_point("/var/lib/longhorn").exists

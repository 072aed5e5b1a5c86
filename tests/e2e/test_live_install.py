"""Scenario a, the live-installed node, and its node agent: one booted node and one reboot.

Scenario a: a node installed unattended from the live kernel (support/live_install.py: PXE-style
fetch of the OS image, config from an HTTP server on this host) boots from its disk as
configured, checked with testinfra over SSH (including a bond failover when QMP pulls the
active port's cable), and keeps its state across a reboot.

The node agent, as it runs in production: the test gives the node credentials for the test
kube-apiserver on this host (the guest reaches it as 10.0.2.2; its serving certificate names
that address), a client certificate for ``system:node:<hostname>`` made from the test server's
CA (what RKE2's kubelet kubeconfig holds), with the chart's CRDs and RBAC applied, and nothing
else: no systemd-run. The image's stook-agent.path starts stook-agent.service as soon as the
credentials appear, the agent names itself after the certificate and its NodeStatus appears;
after the reboot it starts again by itself. In the same boot, a disk hot-plugged over QMP
becomes a BlockDevice through the real kernel and udev and turns Inactive when pulled. The
agent's periodic rescan is set to an hour (an operator's option in /etc/stook/agent/agent.env),
so only the start-up scan and udev events can find the disk.

Both run on one overlay of the session's install (two boots in all, not four): the module's
``node`` is its first boot, ``rebooted`` the boot after the reboot; the tests run in file
order, the first boot's before the second's.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import stook_node_checks as checks
import testinfra
from kubernetes import config

from integration.agent.conftest import cluster  # noqa: F401 (the session's API server)
from integration.agent.kubehelpers import get_or_none, install_crds, wait_until
from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL, NODE_STATUS
from stook_agent.runtime.client import Object, ResourceClient
from support.apiserver import KubeCluster
from support.chart import apply_chart
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
    qcow2,
    reboot,
)
from support.os_image import VERSION
from support.qemu import Ssh, free_port
from support.tiers import require_tier

SSH_OPTIONS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
SERIAL = "STOOK-HOTPLUG"
GiB = 1 << 30
AGENT_SECONDS = 180.0


@dataclass
class Node:
    """The booted overlay: its VM, SSH, testinfra host, the QEMU of the current boot."""

    vm: NodeVm
    ssh: Ssh
    host: testinfra.host.Host
    folder: Path  # serial logs (conftest shows their tails on a failure)
    stack: ExitStack  # stops each boot's QEMU at the module's end
    qemu: subprocess.Popen[bytes]
    sudo_asked_for_password: bool  # before passwordless_sudo: as installed
    before_reboot: dict[str, str] = field(default_factory=dict)  # what must survive it


@pytest.fixture(scope="module")
def node(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The first boot of an overlay of the session's install, healthy, sudo without a prompt."""
    folder = tmp_path_factory.mktemp("installed-node")
    port = free_port()
    vm = NodeVm(installed.disks.overlay(folder / "disks"), folder, port)
    ssh = Ssh(port=port, key=installed.key)
    host = testinfra.get_host(
        f"ssh://stook@127.0.0.1:{port}",
        ssh_identity_file=str(installed.key),
        ssh_extra_args=SSH_OPTIONS,
        controlpersist=0,
        sudo=True,
    )
    with ExitStack() as stack:
        log = folder / "boot1.log"
        qemu = stack.enter_context(vm.booted(log))
        boot_healthy(ssh, qemu, log, "first boot")
        asked = ssh.run("sudo -n true").returncode != 0
        passwordless_sudo(ssh, PASSWORD)
        yield Node(vm, ssh, host, folder, stack, qemu, asked)


@pytest.fixture(scope="module")
def rebooted(node: Node, cluster: KubeCluster) -> Node:  # noqa: F811
    """*node* after a reboot (a second QEMU run of the same disks), healthy again. Its
    NodeStatus is deleted while the node is down, so only the agent of this boot can bring it
    back; a marker, the machine id and the SSH host key are recorded before the reboot."""
    host = node.host
    marker = secrets.token_hex(8)
    node.before_reboot = {
        "marker": marker,
        "machine_id": host.file("/etc/machine-id").content_string.strip(),
        "host_key": host.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[1],
    }
    host.check_output(f"sh -c 'echo {marker} > /etc/stook-e2e && sync'")
    reboot(node.ssh, node.qemu, node.folder / "boot1.log")
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    if get_or_none(ResourceClient(api, NODE_STATUS), HOSTNAME) is not None:
        ResourceClient(api, NODE_STATUS).delete(HOSTNAME)
    log = node.folder / "boot2.log"
    node.qemu = node.stack.enter_context(node.vm.booted(log))
    boot_healthy(node.ssh, node.qemu, log, "second boot")
    return node


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


def test_a_live_installed_node_is_configured(installed: Installed, node: Node) -> None:
    ssh, host = node.ssh, node.host
    assert node.sudo_asked_for_password, "sudo without the password"
    status = node_status(ssh)
    assert (status["slot"], status["version"], status["fell_back"]) == ("A", VERSION, False)
    expected = installed_expectation(installed)
    checks.identity(host, expected)
    checks.immutable_root(host)
    bonding = checks.management_network(host, expected)
    # Pull the active port's cable (QMP set_link): the bond fails over, SSH keeps working.
    active = bonding.split("Currently Active Slave: ")[1].split()[0]
    active_mac = host.file(f"/sys/class/net/{active}/bonding_slave/perm_hwaddr")
    nic = NIC_IDS[active_mac.content_string.strip()]
    qmp = Qmp(node.vm.qmp_socket)
    try:
        qmp.execute("set_link", name=nic, up=False)
        deadline = time.monotonic() + 30
        while active in (now := active_slave(host)) and time.monotonic() < deadline:
            time.sleep(1)
        assert now != active, f"no failover from {active}"
        assert ssh.check("hostname").strip() == HOSTNAME
    finally:
        qmp.execute("set_link", name=nic, up=True)  # the cable back, for the agent's test
        qmp.close()
    checks.data_disk(host, expected)
    checks.rke2_config(host, expected)
    assert "not installed" in host.file("/usr/lib/stook/kubernetes").content_string
    refused = password_login(node.vm.ssh_port, node.folder)
    assert refused.returncode == 255, refused
    assert "Permission denied (publickey)" in refused.stderr, refused.stderr


def node_kubeconfig(cluster: KubeCluster) -> str:  # noqa: F811
    """The node's own credentials (CN=system:node:<hostname>, O=system:nodes) for 10.0.2.2."""
    server = f"https://10.0.2.2:{cluster.port}"
    return cluster.node_kubeconfig(HOSTNAME, server=server, embed=True).read_text()


def find(devices: ResourceClient, state: str) -> Callable[[], Object | None]:
    def check() -> Object | None:
        items, _ = devices.list_objects(f"{NODE_LABEL}={HOSTNAME}")
        for item in items:
            status = item.get("status") or {}
            details = (status.get("deviceStatus") or {}).get("details") or {}
            if details.get("serialNumber") == SERIAL and status.get("state") == state:
                return item
        return None

    return check


def reported(statuses: ResourceClient) -> Callable[[], Object | None]:
    def check() -> Object | None:
        found = get_or_none(statuses, HOSTNAME)
        return found if found and (found.get("status") or {}).get("lastHeartbeat") else None

    return check


def agent_log(ssh: Ssh) -> Callable[[], str]:
    return lambda: ssh.run("sudo -n journalctl -b -u stook-agent --no-pager | tail -40").stdout


def test_the_agent_starts_by_itself_with_node_credentials_and_follows_a_hot_plugged_disk(
    node: Node,
    cluster: KubeCluster,  # noqa: F811
) -> None:
    require_tier(cluster.controllable, "a local test API server", "unset STOOK_TEST_KUBECONFIG")
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    install_crds(api)
    apply_chart(api)
    devices = ResourceClient(api, BLOCK_DEVICE)
    statuses = ResourceClient(api, NODE_STATUS)
    ssh = node.ssh
    disk = qcow2(node.folder / "hotplug.qcow2", "8G")
    if get_or_none(statuses, HOSTNAME) is not None:  # an earlier run's, on a reused API server
        statuses.delete(HOSTNAME)
    # No credentials yet: the path unit waits, the agent does not run.
    assert ssh.run("systemctl is-active stook-agent.path").stdout.strip() == "active"
    assert ssh.run("systemctl is-active stook-agent.service").stdout.strip() == "inactive"
    ssh.check(
        "echo 'STOOK_AGENT_ARGS=--rescan-period 3600' | "
        "sudo -n install -D -m 0644 /dev/stdin /etc/stook/agent/agent.env"
    )
    given = time.monotonic()
    subprocess.run(
        ssh.argv("sudo -n install -D -m 0600 /dev/stdin /etc/stook/agent/kubeconfig"),
        input=node_kubeconfig(cluster), text=True, check=True, capture_output=True,
    )  # fmt: skip
    status = wait_until(reported(statuses), "the agent's NodeStatus", AGENT_SECONDS, agent_log(ssh))
    print(f"credentials written -> NodeStatus: {time.monotonic() - given:.1f} s")
    assert status["metadata"]["labels"][NODE_LABEL] == HOSTNAME
    assert status["status"]["bootedSlot"] == "A", status["status"]
    assert find(devices, "Active")() is None
    qmp = Qmp(node.vm.qmp_socket)
    try:
        qmp.execute(
            "blockdev-add",
            driver="qcow2",
            **{"node-name": "hotplug"},
            file={"driver": "file", "filename": str(disk)},
        )
        plugged = time.monotonic()
        qmp.execute(
            "device_add", driver="virtio-blk-pci", drive="hotplug", id="hotplug", serial=SERIAL
        )
        found = wait_until(
            find(devices, "Active"), "an Active BlockDevice", AGENT_SECONDS, agent_log(ssh)
        )
        print(f"QMP device_add -> Active BlockDevice: {time.monotonic() - plugged:.1f} s")
        device_status = found["status"]["deviceStatus"]
        assert device_status["capacity"] == 8 * GiB, device_status
        assert device_status["details"]["bus"] == "virtio", device_status
        assert found["spec"]["provision"] == "none"
        qmp.execute("device_del", id="hotplug")
        pulled = time.monotonic()
        gone = wait_until(
            find(devices, "Inactive"), "the pulled disk Inactive", AGENT_SECONDS, agent_log(ssh)
        )
        print(f"QMP device_del -> Inactive: {time.monotonic() - pulled:.1f} s")
        assert gone["metadata"]["name"] == found["metadata"]["name"]
    finally:
        qmp.close()


def test_a_the_node_keeps_its_state_across_a_reboot(rebooted: Node) -> None:
    host, before = rebooted.host, rebooted.before_reboot
    status = node_status(rebooted.ssh)
    assert (status["slot"], status["fell_back"]) == ("A", False), status
    assert host.file("/etc/stook-e2e").content_string.strip() == before["marker"]
    assert host.file("/etc/machine-id").content_string.strip() == before["machine_id"]
    assert (
        host.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[1]
        == before["host_key"]
    )
    assert host.mount_point("/var/lib/longhorn").exists


def test_the_agent_starts_again_by_itself_after_the_reboot(
    rebooted: Node,
    cluster: KubeCluster,  # noqa: F811
) -> None:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    statuses = ResourceClient(api, NODE_STATUS)
    ssh = rebooted.ssh
    wait_until(
        reported(statuses), "the NodeStatus again after the reboot", AGENT_SECONDS, agent_log(ssh)
    )
    health = ssh.check("sudo -n journalctl -b -u stook-health-agent --no-pager")
    assert "agent: active" in health, health

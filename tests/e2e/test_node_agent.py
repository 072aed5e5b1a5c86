"""The node agent on an installed node, as it runs in production: the test gives the node
credentials for the test kube-apiserver on this host (the guest reaches it as 10.0.2.2; its
serving certificate names that address), a client certificate for ``system:node:<hostname>``
made from the test server's CA (what RKE2's kubelet kubeconfig holds), with the chart's CRDs and
RBAC applied, and nothing else: no systemd-run. The image's stook-agent.path starts
stook-agent.service as soon as the credentials appear, the agent names itself after the
certificate and its NodeStatus appears; after a reboot it starts again by itself.

In the same boot, a disk hot-plugged over QMP becomes a BlockDevice through the real kernel and
udev and turns Inactive when pulled. The agent's periodic rescan is set to an hour (an
operator's option in /etc/stook/agent/agent.env), so only the start-up scan and udev events can
find the disk."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import config

from integration.agent.conftest import cluster  # noqa: F401 (the session's API server)
from integration.agent.kubehelpers import get_or_none, install_crds, wait_until
from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL, NODE_STATUS
from stook_agent.runtime.client import Object, ResourceClient
from support.apiserver import KubeCluster
from support.chart import apply_chart
from support.live_install import HOSTNAME, PASSWORD, Installed
from support.node_vm import NodeVm, Qmp, boot_healthy, passwordless_sudo, qcow2, reboot
from support.qemu import Ssh, free_port
from support.tiers import require_tier

SERIAL = "STOOK-HOTPLUG"
GiB = 1 << 30
AGENT_SECONDS = 180.0


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


def test_the_agent_starts_by_itself_with_node_credentials_and_follows_a_hot_plugged_disk(
    installed: Installed,
    cluster: KubeCluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    require_tier(cluster.controllable, "a local test API server", "unset STOOK_TEST_KUBECONFIG")
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    install_crds(api)
    apply_chart(api)
    devices = ResourceClient(api, BLOCK_DEVICE)
    statuses = ResourceClient(api, NODE_STATUS)
    port = free_port()
    vm = NodeVm(installed.disks.overlay(tmp_path / "disks"), tmp_path, port)
    ssh = Ssh(port=port, key=installed.key)
    disk = qcow2(tmp_path / "hotplug.qcow2", "8G")
    log = tmp_path / "serial.log"

    def agent_log() -> str:
        return ssh.run("sudo -n journalctl -b -u stook-agent --no-pager | tail -40").stdout

    def node_status() -> Object | None:
        found = get_or_none(statuses, HOSTNAME)
        return found if found and (found.get("status") or {}).get("lastHeartbeat") else None

    with vm.booted(log) as qemu:
        boot_healthy(ssh, qemu, log, "boot")
        passwordless_sudo(ssh, PASSWORD)
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
        status = wait_until(node_status, "the agent's NodeStatus", AGENT_SECONDS, agent_log)
        print(f"credentials written -> NodeStatus: {time.monotonic() - given:.1f} s")
        assert status["metadata"]["labels"][NODE_LABEL] == HOSTNAME
        assert status["status"]["bootedSlot"] == "A", status["status"]
        assert find(devices, "Active")() is None
        qmp = Qmp(vm.qmp_socket)
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
                find(devices, "Active"), "an Active BlockDevice", AGENT_SECONDS, agent_log
            )
            print(f"QMP device_add -> Active BlockDevice: {time.monotonic() - plugged:.1f} s")
            device_status = found["status"]["deviceStatus"]
            assert device_status["capacity"] == 8 * GiB, device_status
            assert device_status["details"]["bus"] == "virtio", device_status
            assert found["spec"]["provision"] == "none"

            qmp.execute("device_del", id="hotplug")
            pulled = time.monotonic()
            gone = wait_until(
                find(devices, "Inactive"), "the pulled disk Inactive", AGENT_SECONDS, agent_log
            )
            print(f"QMP device_del -> Inactive: {time.monotonic() - pulled:.1f} s")
            assert gone["metadata"]["name"] == found["metadata"]["name"]
        finally:
            qmp.close()
        reboot(ssh, qemu, log)

    # Off while the node is down, so only the agent of the next boot can bring it back.
    statuses.delete(HOSTNAME)
    with vm.booted(log) as qemu:
        boot_healthy(ssh, qemu, log, "reboot")
        wait_until(node_status, "the NodeStatus again after the reboot", AGENT_SECONDS, agent_log)
        health = ssh.check("sudo -n journalctl -b -u stook-health-agent --no-pager")
        assert "agent: active" in health, health

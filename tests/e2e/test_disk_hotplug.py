"""A disk hot-plugged into a running node (QMP) becomes a BlockDevice through the real kernel and
udev, and turns Inactive when it is pulled: the node agent runs on the installed node, against
the test kube-apiserver on this host (the guest reaches it as 10.0.2.2; its serving certificate
names that address). Its periodic rescan is set to an hour, so only the start-up scan and udev
events can find the disk."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import config

from integration.agent.conftest import cluster  # noqa: F401 (the session's API server)
from integration.agent.kubehelpers import install_crds, wait_until
from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL
from stook_agent.runtime.client import Object, ResourceClient
from support.apiserver import KubeCluster, write_kubeconfig
from support.live_install import HOSTNAME, PASSWORD, Installed
from support.node_vm import NodeVm, Qmp, boot_healthy, passwordless_sudo, qcow2
from support.qemu import Ssh, free_port
from support.tiers import require_tier

SERIAL = "STOOK-HOTPLUG"
GiB = 1 << 30
AGENT_SECONDS = 180.0
READY = 'import urllib.request as u; u.urlopen("http://127.0.0.1:9808/readyz", timeout=5)'


def guest_kubeconfig(cluster: KubeCluster, folder: Path) -> str:  # noqa: F811
    assert cluster.workdir is not None
    path = folder / "guest-kubeconfig"
    server = f"https://10.0.2.2:{cluster.port}"
    write_kubeconfig(path, server, cluster.workdir / "pki", embed=True)
    return path.read_text()


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


def test_a_hot_plugged_disk_becomes_a_blockdevice_and_turns_inactive_when_pulled(
    installed: Installed,
    cluster: KubeCluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    require_tier(cluster.controllable, "a local test API server", "unset STOOK_TEST_KUBECONFIG")
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    install_crds(api)
    devices = ResourceClient(api, BLOCK_DEVICE)
    port = free_port()
    vm = NodeVm(installed.disks.overlay(tmp_path / "disks"), tmp_path, port)
    ssh = Ssh(port=port, key=installed.key)
    disk = qcow2(tmp_path / "hotplug.qcow2", "8G")
    log = tmp_path / "serial.log"

    def agent_log() -> str:
        return ssh.run("sudo -n journalctl -u stook-agent-e2e --no-pager | tail -40").stdout

    with vm.booted(log) as qemu:
        boot_healthy(ssh, qemu, log, "boot")
        passwordless_sudo(ssh, PASSWORD)
        subprocess.run(
            ssh.argv("sudo -n install -D -m 0600 /dev/stdin /etc/stook/kubeconfig"),
            input=guest_kubeconfig(cluster, tmp_path), text=True, check=True, capture_output=True,
        )  # fmt: skip
        ssh.check(
            "sudo -n systemd-run --unit=stook-agent-e2e stook-agent --node-name "
            f"{HOSTNAME} --kubeconfig /etc/stook/kubeconfig --rescan-period 3600"
        )
        wait_until(
            lambda: ssh.run(f"python3 -c '{READY}'").returncode == 0,
            "the agent's /readyz",
            AGENT_SECONDS,
            agent_log,
        )
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

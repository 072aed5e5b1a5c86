"""Networks on a real node (issue 14, N1-N3): one node VM with four NICs and one reboot serve
every check; a small peer VM shares the second L2 segment (tests/support/segment.py).

The node is an overlay of the session's live install (NICs 1 and 2 bonded as mgmt on QEMU's
user network); NICs 3 and 4 are on hub 1 with the peer. Its agent runs as in production: the
test writes node credentials for the test kube-apiserver on this host (as
tests/e2e/test_node_agent.py does) and stook-agent.path starts it. The network cluster
controller (NADs, VLAN IDs, the ManagementChange hand-over) runs here on the host, as the
leader would. VM ports on the node are veths in network namespaces on the bridge, tagged as the
bridge CNI tags a VM's port (PVID = the NAD's VLAN, untagged).

- N1: UplinkConfig on NICs 3+4 (by MAC), VLANs 100 and 200 from two VMNetworks: bond, bridge and
  VLANs as specified (over SSH); the peer's VLAN 100 interface reaches the VLAN 100 port and not
  the VLAN 200 port (same IP subnet); after the reboot all is back (stook-networks.service);
  deleting the config leaves NICs 3 and 4 up and unenslaved.
- N2: a ManagementChange to a VLAN the segment does not carry rolls back by itself (the agent's
  probes fail); again with the agent killed right after applying (the checkpoint's timer rolls
  back); both report RolledBack with the failed probes; an MTU change commits and survives the
  reboot.
- N3: an UplinkConfig naming a management NIC is refused on the node (NicInUse), the NIC stays
  in mgmt-bo; a VMNetwork on the management VLAN is refused by admission.

Timings (apply, rollback) are printed: bench figures come from this output.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from integration.agent.conftest import api, cluster  # noqa: F401 (the session's API server)
from integration.agent.kubehelpers import wait_until
from integration.networks.conftest import (  # noqa: F401 (shared fixtures)
    Kube,
    charted,
    controller_api,
    kube,
    net_api,
    run_networks,
)
from stook_agent.networks.mgmt import request_ident
from support.apiserver import KubeCluster
from support.live_install import HOSTNAME, PASSWORD, Installed
from support.node_vm import MAC1, NodeVm, boot_healthy, passwordless_sudo, reboot
from support.os_image import VERSION, os_image
from support.qemu import Ssh, free_port
from support.segment import MAC3, MAC4, PeerVm, Segment, SerialShell, peer_initrd
from support.tiers import require_tier

AGENT_SECONDS = 240.0
ROLLBACK_AFTER = 30  # the ManagementChange's checkpoint (the API's minimum)
CHANGE_SECONDS = ROLLBACK_AFTER + 150.0
RACK = {"stook.io/rack": "e2e"}
Object = dict[str, Any]


def node_kubeconfig(cluster: KubeCluster) -> str:  # noqa: F811
    return cluster.node_kubeconfig(
        HOSTNAME, server=f"https://10.0.2.2:{cluster.port}", embed=True
    ).read_text()


def body(kind: str, name: str, spec: Object, namespace: str | None = None) -> Object:
    meta: Object = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "stook.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


class Node:
    """The node over SSH, and its NodeNetwork as the agent reports it."""

    def __init__(self, ssh: Ssh, kube: Kube) -> None:  # noqa: F811
        self.ssh = ssh
        self.kube = kube

    def sh(self, command: str, timeout: float = 60.0) -> str:
        return self.ssh.check(f"sudo -n sh -c {shlex_quote(command)}", timeout)

    def nic(self, mac: str) -> str:
        """The kernel name of the NIC with permanent MAC *mac* (netlink, through the image's
        own stook_core: an enslaved NIC's current MAC is its bond's)."""
        found = self.sh(f"{PYTHON} -c {shlex_quote(PERMANENT)}").split()
        names = {found[i + 1]: found[i] for i in range(0, len(found) - 1, 2)}
        assert mac in names, f"no NIC with permanent MAC {mac}: {names}"
        return names[mac]

    def agent_log(self) -> str:
        return self.ssh.run("sudo -n journalctl -b -u stook-agent --no-pager | tail -40").stdout

    def status(self) -> Object:
        return self.kube.status("nodenetworks", HOSTNAME)

    def ready(self, name: str, vlans: list[int]) -> Object | None:
        found = self.network(name)
        return found if found and found.get("ready") and found.get("vlanIds") == vlans else None

    def gone(self, name: str) -> bool:
        return self.network(name) is None and f"{name}-bo" not in self.sh("ls /sys/class/net")

    def network(self, name: str) -> Object | None:
        return next(
            (n for n in self.status().get("networks", []) if n["clusterNetwork"] == name), None
        )

    def trial_seconds(self, change: Object) -> float:
        """From the trial's start to its commit or rollback, as the node recorded it."""
        path = f"/var/lib/stook/net/mgmt/results/{request_ident(change['request'])}.json"
        result = json.loads(self.sh(f"cat {path}"))
        return float(result["finished"]) - float(result["started"])

    def last_change(self, name: str, phases: tuple[str, ...]) -> Callable[[], Object | None]:
        def check() -> Object | None:
            last = (self.status().get("management") or {}).get("lastChange") or {}
            return last if last.get("change") == name and last.get("phase") in phases else None

        return check


PYTHON = "/usr/lib/stook/venv/bin/python"
PERMANENT = (
    "from stook_core.net.permaddr import netlink_permanent_macs as p\n"
    "for n, m in p().items(): print(n, m)"
)
# Kills the agent (SIGKILL) as soon as the checkpoint says the change is applied, and notes the
# PID once that process is gone. /run is noexec on the node (initramfs-tools mounts it so): the
# script runs through sh (as an executable it failed with 203/EXEC and the agent lived on).
KILLER = r"""cat > /run/e2e-kill-agent <<'EOF'
until grep -q '"phase": "applied"' /run/stook/net/mgmt/checkpoint.json 2>/dev/null; do
  sleep 0.1
done
pid=$(systemctl show -p MainPID --value stook-agent.service)
systemctl kill --signal=SIGKILL stook-agent.service
while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
echo "killed $pid" > /run/e2e-kill-agent.log
EOF
systemd-run --unit e2e-kill-agent /bin/sh /run/e2e-kill-agent
"""


def shlex_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


# The VM ports' MACs are fixed: the peer stays up across the node's reboot and keeps its
# neighbour entries (a random MAC per boot made its first pings go to the old one).
VM_PORTS = """
set -e
for vid in 100 200; do
  ip netns add vm$vid
  ip link add p$vid type veth peer name v$vid address 02:00:00:00:0$((vid / 100)):10
  ip link set v$vid netns vm$vid; ip link set p$vid master vms-br; ip link set p$vid up
  bridge vlan add dev p$vid vid $vid pvid untagged; bridge vlan del dev p$vid vid 1
  ip -n vm$vid link set v$vid up; ip -n vm$vid link set lo up
done
ip -n vm100 addr add 192.168.100.10/24 dev v100
ip -n vm200 addr add 192.168.100.20/24 dev v200
ip -n vm200 addr add 192.168.200.10/24 dev v200
"""


PEER_VLANS = (
    "vconfig add eth0 100", "vconfig add eth0 200",
    "ip addr add 192.168.100.2/24 dev eth0.100", "ip link set eth0.100 up",
    "ip addr add 192.168.200.2/24 dev eth0.200", "ip link set eth0.200 up",
)  # fmt: skip


def peer_vlans(peer: SerialShell) -> None:
    """The peer's VLAN 100 and 200 interfaces on its one NIC."""
    for command in PEER_VLANS:
        rc, out = peer.run(command)
        assert rc == 0, f"peer: {command}: {out}"


def check_vlans_reach(peer: SerialShell) -> None:
    """The peer on VLAN 100 reaches the VLAN 100 port, not the VLAN 200 one (same subnet);
    on VLAN 200 it reaches the VLAN 200 port."""
    rc, out = peer.run("ping -c 3 -W 3 192.168.100.10", 30)
    assert rc == 0, f"VLAN 100 port unreachable from the peer's VLAN 100:\n{out}"
    rc, out = peer.run("ping -c 2 -W 2 192.168.100.20", 30)
    assert rc != 0, f"the VLAN 200 port answered on VLAN 100:\n{out}"
    rc, out = peer.run("ping -c 3 -W 3 192.168.200.10", 30)
    assert rc == 0, f"VLAN 200 port unreachable from the peer's VLAN 200:\n{out}"


@contextlib.contextmanager
def made(kube: Kube, plural: str, obj: Object) -> Iterator[Object]:  # noqa: F811
    created = kube.create(plural, obj)
    try:
        yield created
    finally:
        with contextlib.suppress(ApiException):
            kube.delete(plural, obj["metadata"]["name"], obj["metadata"].get("namespace"))


def run_change(node: Node, kube: Kube, name: str, spec: Object, phases: tuple[str, ...]) -> Object:  # noqa: F811
    """Make ManagementChange *name*, wait for the node's result in *phases*, delete it."""
    spec = {"rollbackAfterSeconds": ROLLBACK_AFTER, **spec}
    started = time.monotonic()
    with made(kube, "managementchanges", body("ManagementChange", name, spec)):
        result = wait_until(
            node.last_change(name, ("Committed", "RolledBack", "Failed")),
            f"the node's result of ManagementChange {name}", CHANGE_SECONDS, node.agent_log,
        )  # fmt: skip
        print(
            f"ManagementChange {name}: {result['phase']} after {time.monotonic() - started:.1f} s"
        )
    assert result["phase"] in phases, result
    return result


def test_cluster_networks_and_safe_management_changes_on_a_node_with_four_nics(
    installed: Installed,
    cluster: KubeCluster,  # noqa: F811
    charted: k8s.ApiClient,  # noqa: F811
    controller_api: k8s.ApiClient,  # noqa: F811
    kube: Kube,  # noqa: F811
    run_networks: Callable[..., Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    require_tier(cluster.controllable, "a local test API server", "unset STOOK_TEST_KUBECONFIG")
    run_networks(controller_api)  # the stook-controller's own credential (mgmt is its only)
    kube.core.create_node({"metadata": {"name": HOSTNAME, "labels": RACK}})
    image = os_image()
    kernel = image.parent / f"vmlinuz-{VERSION}"
    initrd = peer_initrd(image, image.parent / f"initrd.img-{VERSION}", tmp_path / "peer.img")
    segment = Segment.new()
    port = free_port()
    vm = NodeVm(
        installed.disks.overlay(tmp_path / "disks"), tmp_path, port, extra=segment.node_args()
    )
    node = Node(Ssh(port=port, key=installed.key), kube)
    peer_vm = PeerVm(kernel, initrd, segment, tmp_path)
    log = tmp_path / "serial.log"

    # The peer stays up across the node's reboot (UDP needs no connection): one peer boot.
    with peer_vm.booted(tmp_path / "peer.log") as peer:
        with vm.booted(log) as qemu:
            before_reboot(node, kube, cluster, qemu, log, peer)
            reboot(node.ssh, qemu, log)
        with vm.booted(log) as qemu:
            after_reboot(node, kube, qemu, log, peer)


def before_reboot(
    node: Node, kube: Kube, cluster: KubeCluster, qemu: Popen[bytes], log: Path, peer: SerialShell,  # noqa: F811
) -> None:  # fmt: skip
    boot_healthy(node.ssh, qemu, log, "boot")
    passwordless_sudo(node.ssh, PASSWORD)
    subprocess.run(
        node.ssh.argv("sudo -n install -D -m 0600 /dev/stdin /etc/stook/agent/kubeconfig"),
        input=node_kubeconfig(cluster), text=True, check=True, capture_output=True,
    )  # fmt: skip
    wait_until(lambda: node.status().get("management", {}).get("nics"),
               "the agent's NodeNetwork", AGENT_SECONDS, node.agent_log)  # fmt: skip
    peer_vlans(peer)

    # --- N1: the cluster network on NICs 3 and 4, VLANs 100 and 200 from two NADs -----------
    kube.create("clusternetworks", body("ClusterNetwork", "vms", {}))
    for vid in (100, 200):
        spec = {"clusterNetwork": "vms", "vlanId": vid}
        kube.create("vmnetworks", body("VMNetwork", f"vlan{vid}", spec, "default"))
    uplink = {"clusterNetwork": "vms", "nodeSelector": RACK,
              "nics": [{"mac": MAC3}, {"mac": MAC4}], "bond": {"mode": "active-backup"},
              "mtu": 1500}  # fmt: skip
    started = time.monotonic()
    kube.create("uplinkconfigs", body("UplinkConfig", "rack-e2e", uplink))
    ready = wait_until(
        lambda: node.ready("vms", [100, 200]),
        "cluster network vms ready with VLANs 100 and 200", AGENT_SECONDS, node.agent_log,
    )  # fmt: skip
    print(f"UplinkConfig -> NodeNetwork ready with VLANs: {time.monotonic() - started:.1f} s")
    nic3, nic4 = node.nic(MAC3), node.nic(MAC4)
    assert sorted(ready["nics"]) == sorted([nic3, nic4]), ready
    check_cluster_network(node, nic3, nic4)
    labels = wait_until(lambda: kube.node_labels(HOSTNAME).get("network.stook.io/vms"),
                        "the node label network.stook.io/vms")  # fmt: skip
    assert labels == "true"
    inventory = {n["name"]: n for n in kube.status("nicinventories", HOSTNAME)["nics"]}
    assert inventory[nic3]["usedBy"] == "vms" and inventory[nic3]["permanentMac"] == MAC3
    node.sh(VM_PORTS)
    check_vlans_reach(peer)

    # --- N3: a management NIC is refused on the node; no VM network on the mgmt VLAN ---------
    takes_mgmt = {"clusterNetwork": "bad", "nodeSelector": RACK, "nics": [{"mac": MAC1}]}
    with (
        made(kube, "clusternetworks", body("ClusterNetwork", "bad", {})),
        made(kube, "uplinkconfigs", body("UplinkConfig", "takes-mgmt", takes_mgmt)),
    ):
        refused = wait_until(
            lambda: (n := node.network("bad")) and n.get("conditions") and n,
            "the node's refusal of a management NIC", AGENT_SECONDS, node.agent_log,
        )  # fmt: skip
        condition = refused["conditions"][0]
        assert (condition["status"], condition["reason"]) == ("False", "NicInUse"), refused
        assert "management network" in condition["message"], condition
        assert "master mgmt-bo" in node.sh(f"ip link show {node.nic(MAC1)}")
    reserved = wait_until(
        lambda: kube.status("clusternetworks", "mgmt").get("reservedVlanIds"),
        "the mgmt ClusterNetwork's reserved VLAN",
    )  # fmt: skip
    on_mgmt = {"clusterNetwork": "mgmt", "vlanId": reserved[0]}
    with pytest.raises(ApiException) as denied:
        kube.create("vmnetworks", body("VMNetwork", "on-mgmt", on_mgmt, "default"))
    assert denied.value.status in (403, 422), denied.value

    # --- N2: a change that cuts the node off rolls back by itself ---------------------------
    cut = run_change(node, kube, "cut-alive", {"vlanId": 99}, ("RolledBack",))
    node.ssh.wait(qemu, log, 60)
    assert cut["failedProbes"] and "gateway" in cut["probes"], cut
    assert "timer" not in cut["message"], cut
    print(
        f"trial cut-alive: rolled back by the agent {node.trial_seconds(cut):.1f} s after it began"
    )
    # Killed right after applying: a watcher on the node kills the agent (SIGKILL) as soon as
    # the checkpoint says applied; only the transient timer can roll back now.
    node.sh(KILLER)
    killed = run_change(node, kube, "cut-killed", {"vlanId": 98}, ("RolledBack",))
    node.ssh.wait(qemu, log, 60)
    victim = node.sh("cat /run/e2e-kill-agent.log").split()
    assert victim[0] == "killed" and int(victim[1]) > 0, victim
    now = int(node.sh("systemctl show -p MainPID --value stook-agent"))
    assert now != int(victim[1]), f"the agent {now} was not killed"
    assert "timer" in killed["message"] and killed["failedProbes"], killed
    print(
        f"trial cut-killed: rolled back by the timer {node.trial_seconds(killed):.1f} s after "
        "it began"
    )
    good = run_change(node, kube, "mtu-1400", {"mtu": 1400}, ("Committed",))
    assert not good["failedProbes"], good
    print(f"trial mtu-1400: probed and committed in {node.trial_seconds(good):.1f} s")
    wait_until(lambda: "mtu 1400" in node.sh("ip link show mgmt-br"), "MTU 1400 on mgmt-br")
    assert "MTUBytes=1400" in node.sh("cat /etc/systemd/network/10-mgmt-br.netdev")


def after_reboot(node: Node, kube: Kube, qemu: Popen[bytes], log: Path, peer: SerialShell) -> None:  # noqa: F811
    """The cluster network is back from stook-networks.service (before the agent), the MTU
    change too; then the config is deleted: NICs 3 and 4 up and unenslaved."""
    boot_healthy(node.ssh, qemu, log, "reboot")
    saved = node.sh("journalctl -b -u stook-networks.service --no-pager")
    assert "stook-net: cluster network vms: NICs" in saved, saved
    assert "mtu 1400" in node.sh("ip link show mgmt-br")
    nic3, nic4 = node.nic(MAC3), node.nic(MAC4)
    check_cluster_network(node, nic3, nic4)
    node.sh(VM_PORTS)
    check_vlans_reach(peer)
    started = time.monotonic()
    kube.delete("uplinkconfigs", "rack-e2e")
    wait_until(lambda: node.gone("vms"),
               "cluster network vms removed", AGENT_SECONDS, node.agent_log)  # fmt: skip
    print(f"UplinkConfig deleted -> bond and bridge gone: {time.monotonic() - started:.1f} s")
    for nic in (nic3, nic4):
        link = node.sh(f"ip link show {nic}")
        assert "state UP" in link or ",UP" in link, link
        assert "master" not in link, link


def check_cluster_network(node: Node, nic3: str, nic4: str) -> None:
    """Bond (NIC 3's MAC), VLAN-filtering bridge, both NICs enslaved, VLANs 100 and 200."""
    bond = node.sh("ip -d link show vms-bo")
    assert "bond mode active-backup" in bond and "master vms-br" in bond, bond
    assert f"link/ether {MAC3}" in bond, f"vms-bo does not carry NIC 3's MAC {MAC3}: {bond}"
    assert "vlan_filtering 1" in node.sh("ip -d link show vms-br")
    for nic in (nic3, nic4):
        assert "master vms-bo" in node.sh(f"ip link show {nic}")
    trunk = node.sh("bridge vlan show dev vms-bo")
    assert " 100" in trunk and " 200" in trunk, trunk

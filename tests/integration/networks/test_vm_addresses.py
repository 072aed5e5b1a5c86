"""VM IP discovery end to end on the host: a real neighbour table (two network namespaces,
a veth named as a cluster bridge's VLAN device ``<cn>-br.<vid>``: the host kernel has no
bridges), read through netlink by the publisher's own reader, published into the node's
NodeNetwork on the real kube-apiserver with that node's credentials."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config
from pyroute2 import NetNS, netns

from integration.networks.conftest import Kube
from stook_agent.networks.resources import NODE_NETWORK
from stook_agent.networks.vmaddresses import VMAddressPublisher, kernel_reader
from stook_agent.runtime.client import ResourceClient
from stook_core.net.probes import ping
from support.apiserver import KubeCluster
from support.tiers import require_root

NODE_IP, VM_IP = "10.232.0.1", "10.232.0.7"
VM_MAC = "52:54:00:ab:cd:07"


@pytest.fixture
def vlan_of_a_bridge() -> Iterator[str]:
    """Namespace *node* with ``tv-br.100`` (NODE_IP/24), a peer namespace as the VM (VM_MAC,
    VM_IP) on its other end; returns the node's namespace once it has pinged the VM."""
    require_root()
    node, vm = (f"stook-vmip-{uuid.uuid4().hex[:8]}" for _ in range(2))
    netns.create(node)
    netns.create(vm)
    try:
        with NetNS(node) as ns:
            ns.link("add", ifname="tv-br.100", kind="veth",
                    peer={"ifname": "eth0", "net_ns_fd": vm})  # fmt: skip
            index = ns.link_lookup(ifname="tv-br.100")[0]
            ns.addr("add", index=index, address=NODE_IP, prefixlen=24)
            ns.link("set", index=index, state="up")
        with NetNS(vm) as ns:
            index = ns.link_lookup(ifname="eth0")[0]
            ns.link("set", index=index, address=VM_MAC)
            ns.addr("add", index=index, address=VM_IP, prefixlen=24)
            ns.link("set", index=index, state="up")
        netns.pushns(node)  # this thread's sockets in the node's namespace
        try:
            assert ping(VM_IP, timeout=5), "the VM namespace does not answer"
        finally:
            netns.popns()  # fmt: skip
        yield node
    finally:
        netns.remove(node)
        netns.remove(vm)


def test_vm_macs_seen_on_a_bridge_are_published_with_their_ips(
    vlan_of_a_bridge: str,
    kube: Kube,
    charted: k8s.ApiClient,
    cluster: KubeCluster,
    report_as_node: Callable[[str, str, dict[str, Any]], None],
    tag: str,
) -> None:
    node = f"vmip-{tag}"
    report_as_node("NodeNetwork", node, {"networks": [{"clusterNetwork": "tv", "ready": True}]})
    as_node = config.new_client_from_config(config_file=str(cluster.node_kubeconfig(node)))
    publisher = VMAddressPublisher(
        ResourceClient(as_node, NODE_NETWORK), node,
        read=lambda: kernel_reader(lambda: NetNS(vlan_of_a_bridge)),
    )  # fmt: skip
    assert publisher.publish_once()
    status = kube.status("nodenetworks", node)
    (entry,) = status["vmAddresses"]
    assert (entry["mac"], entry["ips"], entry["bridge"], entry["vlanId"]) == (
        VM_MAC, [VM_IP], "tv-br", 100)  # fmt: skip
    assert status["networks"][0]["clusterNetwork"] == "tv"  # the node side's part untouched
    assert not publisher.publish_once()  # nothing changed: no write

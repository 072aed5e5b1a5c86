"""The node side's netlink reads and probes against the host kernel: veth pairs between two
network namespaces made here (the host kernel has veth and namespaces, but no bond, bridge or
VLAN links: those run in the e2e tier's QEMU VMs)."""

from __future__ import annotations

import socket
import struct
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pyroute2 import NetNS, netns

from stook_core.net.cluster import ClusterNetworkSpec, NicSelector, RefusedError, apply
from stook_core.net.links import Pyroute2Netlink
from stook_core.net.neighbours import addresses_by_mac, read_neighbours
from stook_core.net.probes import dns_query, ping, tcp_connect
from support.tiers import require_root

A, B = "10.231.0.1", "10.231.0.2"


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    """Namespaces *one* (veth va, A/24) and *two* (veth vb, B/24), linked."""
    require_root()
    one, two = (f"stook-net-{uuid.uuid4().hex[:8]}" for _ in range(2))
    netns.create(one)
    netns.create(two)
    try:
        with NetNS(one) as ns:
            ns.link("add", ifname="va", kind="veth", peer={"ifname": "vb", "net_ns_fd": two})
            index = ns.link_lookup(ifname="va")[0]
            ns.addr("add", index=index, address=A, prefixlen=24)
            ns.link("set", index=index, state="up")
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        with NetNS(two) as ns:
            index = ns.link_lookup(ifname="vb")[0]
            ns.addr("add", index=index, address=B, prefixlen=24)
            ns.link("set", index=index, state="up")
        yield one, two
    finally:
        netns.remove(one)
        netns.remove(two)


@contextmanager
def inside(name: str) -> Iterator[None]:
    """This thread in namespace *name* (sockets made meanwhile stay there)."""
    netns.pushns(name)
    try:
        yield
    finally:
        netns.popns()


def test_links_are_read_as_the_kernel_has_them_and_changed_through_netlink(
    pair: tuple[str, str],
) -> None:
    one, _ = pair
    with NetNS(one) as ns:
        netlink = Pyroute2Netlink(ns)
        va = next(link for link in netlink.links() if link.name == "va")
        assert (va.kind, va.master, va.up, va.mtu) == ("veth", None, True, 1500)
        assert va.addresses == (f"{A}/24",)
        assert va.permanent_mac is None  # a veth has none
        netlink.set_mtu("va", 1400)
        netlink.set_up("va", False)
        netlink.set_mac("va", "02:00:00:5e:00:42")
        va = next(link for link in netlink.links() if link.name == "va")
        assert (va.mtu, va.up, va.mac) == (1400, False, "02:00:00:5e:00:42")
        assert netlink.port_vlans("va") == set()  # not a bridge port


def test_a_nic_with_an_address_or_missing_is_refused_on_the_real_kernel(
    pair: tuple[str, str],
) -> None:
    one, _ = pair
    with NetNS(one) as ns:
        netlink = Pyroute2Netlink(ns)
        before = netlink.links()
        # A veth (kind veth) is no NIC: never taken, as a NIC the node lacks.
        spec = ClusterNetworkSpec("vms", (NicSelector(name="va"), NicSelector(name="ens9")))
        with pytest.raises(RefusedError) as refused:
            apply(netlink, spec)
        assert "NIC va is not a NIC of this node (NICs: none)" in str(refused.value)
        assert "NIC ens9 is not a NIC of this node" in str(refused.value)
        assert netlink.links() == before


def test_probes_pass_across_the_link_and_fail_once_it_is_down(pair: tuple[str, str]) -> None:
    one, two = pair
    answered = threading.Event()
    with inside(two):
        dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dns.bind((B, 53))
        api = socket.socket()
        api.bind((B, 6443))
        api.listen()

    def answer() -> None:  # a DNS server's shortest answer: the query's id, flags "response"
        query, peer = dns.recvfrom(512)
        dns.sendto(query[:2] + struct.pack("!H", 0x8182) + query[4:], peer)
        answered.set()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with inside(one):
            assert ping(B)
            assert tcp_connect(B, 6443)
            assert dns_query(B)
            assert answered.wait(5)
            assert not tcp_connect(B, 6444)
        with NetNS(one) as ns:
            neighbours = read_neighbours(ns)
            mac = next(n.mac for n in neighbours if n.address == B)
            assert addresses_by_mac(neighbours, [mac, "02:00:00:00:00:01"]) == {
                "02:00:00:00:00:01": [],
                mac: [B],
            }
            ns.link("set", index=ns.link_lookup(ifname="va")[0], state="down")
        with inside(one):
            assert not ping(B, timeout=1)
            assert not dns_query(B, timeout=1)
    finally:
        dns.close()
        api.close()

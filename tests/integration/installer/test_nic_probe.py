"""The permanent MAC probe against the kernel's own netlink answers: pyroute2 in this host's
network namespace and in one made here with a veth pair (the host kernel has no bonding)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyroute2 import NetNS, netns

from stook_core import hardware
from stook_core.net.permaddr import netlink_permanent_macs, read_permanent_macs
from support.tiers import require_root, require_tier

NET_ADDR_PERM = "0"  # addr_assign_type: the address is the permanent one, never changed


@pytest.fixture
def namespace() -> Iterator[str]:
    require_root()
    name = f"stook-test-{uuid.uuid4().hex[:8]}"
    netns.create(name)
    try:
        yield name
    finally:
        netns.remove(name)


def test_links_without_a_permanent_mac_report_none_even_with_a_copied_mac(
    namespace: str,
) -> None:
    # A veth has a random MAC (no permanent one). Give v1 v0's MAC, as a bond gives its
    # ports the first port's: neither may be taken for a permanent address.
    with NetNS(namespace) as ns:
        ns.link("add", ifname="v0", kind="veth", peer="v1")
        v0 = ns.link_lookup(ifname="v0")[0]
        v1 = ns.link_lookup(ifname="v1")[0]
        mac = ns.get_links(v0)[0].get_attr("IFLA_ADDRESS")
        ns.link("set", index=v1, address=mac)
        assert ns.get_links(v1)[0].get_attr("IFLA_ADDRESS") == mac
        assert read_permanent_macs(ns) == {}


def test_a_nic_that_kept_its_address_reports_it_as_permanent() -> None:
    # The oracle: sysfs addr_assign_type 0 means the current address is the permanent one.
    require_root()
    kept = {
        sys.name: (sys / "address").read_text().strip()
        for sys in sorted(Path("/sys/class/net").iterdir())
        if (sys / "device").exists()
        and (sys / "addr_assign_type").read_text().strip() == NET_ADDR_PERM
        and not (sys / "master").exists()
    }
    require_tier(bool(kept), "a physical NIC with its factory MAC", "run on a machine with one")
    permanent = netlink_permanent_macs()
    for name, address in kept.items():
        assert permanent.get(name) == address, name
        assert hardware.probe_nic(name).permanent_mac == address

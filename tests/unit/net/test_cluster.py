"""Cluster networks on a node (stook_core.net.cluster) against FakeNetlink, the kernel's test
double at the netlink boundary (tests/unit/net/fake_netlink.py)."""

from __future__ import annotations

import pytest

from stook_core.net.cluster import (
    ClusterNetworkSpec,
    NicSelector,
    RefusedError,
    apply,
    networks_present,
    remove,
)
from stook_core.net.links import Link
from unit.net.fake_netlink import FakeNetlink

NIC3_MAC, NIC4_MAC = "52:54:00:5e:00:03", "52:54:00:5e:00:04"


def node() -> FakeNetlink:
    """Four NICs: 1 and 2 ports of the management bond, 3 and 4 free (down, as after boot)."""
    return FakeNetlink(
        [
            Link("lo", 1, up=True, mtu=65536),
            Link("mgmt-br", 2, "bridge", up=True, addresses=("10.0.2.15/24",)),
            Link("mgmt-bo", 3, "bond", master="mgmt-br", up=True, bond_mode="active-backup"),
            Link("ens3", 4, None, "mgmt-bo", "52:54:00:5e:00:01", "52:54:00:5e:00:01", True),
            Link("ens4", 5, None, "mgmt-bo", "52:54:00:5e:00:01", "52:54:00:5e:00:02", True),
            Link("ens5", 6, None, None, NIC3_MAC, NIC3_MAC),
            Link("ens6", 7, None, None, NIC4_MAC, NIC4_MAC),
        ]
    )


def spec(**changes: object) -> ClusterNetworkSpec:
    base: dict[str, object] = {
        "network": "vmnet",
        "nics": (NicSelector(name="ens5"), NicSelector(mac=NIC4_MAC)),
        "vlans": (100, 200),
    }
    return ClusterNetworkSpec(**{**base, **changes})  # type: ignore[arg-type]


def test_apply_builds_bond_bridge_and_vlans_and_a_second_apply_changes_nothing() -> None:
    kernel = node()
    applied = apply(kernel, spec(mtu=9000, options={"primary": "ens5"}))
    assert applied.nics == ("ens5", "ens6")
    assert applied.vlans == (100, 200)
    bond, bridge = kernel.link("vmnet-bo"), kernel.link("vmnet-br")
    assert (bond.kind, bond.bond_mode, bond.master, bond.up) == (
        "bond",
        "active-backup",
        "vmnet-br",
        True,
    )
    assert (bridge.kind, bridge.up, bridge.mtu) == ("bridge", True, 9000)
    assert [kernel.link(n).master for n in ("ens5", "ens6")] == ["vmnet-bo", "vmnet-bo"]
    assert all(kernel.link(n).up for n in ("ens5", "ens6"))
    assert kernel.port_vlans("vmnet-bo") == {1, 100, 200}
    assert kernel.options["vmnet-bo"] == {"primary": "ens5"}
    assert kernel.netfilter_off
    assert networks_present(kernel.links()) == {"vmnet"}
    kernel.calls.clear()
    again = apply(kernel, spec(mtu=9000, options={"primary": "ens5"}))
    assert again.changes == ()
    assert kernel.calls == []


def test_vlans_follow_the_spec_and_the_default_pvid_stays() -> None:
    kernel = node()
    apply(kernel, spec())
    changed = apply(kernel, spec(vlans=(200, 300)))
    assert kernel.port_vlans("vmnet-bo") == {1, 200, 300}
    assert changed.changes == ("VLAN 300 on vmnet-bo", "VLAN 100 off vmnet-bo")


def test_a_new_bond_mode_rebuilds_the_bond_and_a_dropped_nic_is_given_back_up() -> None:
    kernel = node()
    apply(kernel, spec())
    apply(kernel, spec(mode="802.3ad", nics=(NicSelector(name="ens5"),)))
    assert kernel.link("vmnet-bo").bond_mode == "802.3ad"
    assert kernel.link("vmnet-bo").master == "vmnet-br"
    assert kernel.link("ens5").master == "vmnet-bo"
    assert (kernel.link("ens6").master, kernel.link("ens6").up) == (None, True)
    assert kernel.port_vlans("vmnet-bo") == {1, 100, 200}


def test_remove_gives_the_nics_back_up_and_unenslaved() -> None:
    kernel = node()
    apply(kernel, spec())
    assert remove(kernel, "vmnet") == ("ens5", "ens6")
    names = {link.name for link in kernel.links()}
    assert "vmnet-bo" not in names and "vmnet-br" not in names
    for nic in ("ens5", "ens6"):
        assert (kernel.link(nic).master, kernel.link(nic).up) == (None, True)
    assert remove(kernel, "vmnet") == ()


@pytest.mark.parametrize(
    ("nics", "says"),
    [
        ((NicSelector(name="ens4"),), "NIC ens4 is a port of the management network (mgmt-bo)"),
        # An enslaved NIC's current MAC is the bond's: only the permanent one names ens4.
        ((NicSelector(mac="52:54:00:5e:00:02"),), "is a port of the management network"),
        ((NicSelector(name="ens9"),), "NIC ens9 is not a NIC of this node (NICs: ens3"),
        ((NicSelector(name="ens5"), NicSelector(mac=NIC3_MAC)), "is ens5, named twice"),
    ],
)
def test_a_nic_the_node_uses_elsewhere_is_refused_and_nothing_is_touched(
    nics: tuple[NicSelector, ...], says: str
) -> None:
    kernel = node()
    before = kernel.links()
    with pytest.raises(RefusedError) as refused:
        apply(kernel, spec(nics=(NicSelector(name="ens6"), *nics)))
    assert says in str(refused.value)
    assert "nothing was changed" in str(refused.value)
    assert kernel.links() == before
    assert kernel.calls == []


def test_a_port_of_another_cluster_network_and_a_nic_with_an_address_are_refused() -> None:
    kernel = node()
    apply(kernel, spec(network="storage", nics=(NicSelector(name="ens6"),)))
    with pytest.raises(
        RefusedError, match=r"NIC ens6 \(52:54:00:5e:00:04\) is a port of cluster network storage"
    ):
        apply(kernel, spec())
    kernel = FakeNetlink([Link("eno1", 2, addresses=("192.0.2.5/24",))])
    with pytest.raises(RefusedError, match=r"NIC eno1 carries 192\.0\.2\.5/24: the node uses it"):
        apply(kernel, spec(nics=(NicSelector(name="eno1"),)))


def test_the_bond_carries_its_first_nics_permanent_mac_and_keeps_it() -> None:
    kernel = node()  # a new bond gets a random MAC (or udev's), as the kernel gives it
    apply(kernel, spec(nics=(NicSelector(mac=NIC4_MAC), NicSelector(name="ens5"))))
    assert kernel.link("vmnet-bo").mac == NIC4_MAC
    kernel.calls.clear()
    assert (
        apply(kernel, spec(nics=(NicSelector(mac=NIC4_MAC), NicSelector(name="ens5")))).changes
        == ()
    )
    kernel._set("vmnet-bo", mac="02:00:00:00:00:98")  # changed behind the agent's back
    again = apply(kernel, spec(nics=(NicSelector(mac=NIC4_MAC), NicSelector(name="ens5"))))
    assert again.changes == (f"MAC {NIC4_MAC} on vmnet-bo (that of ens6)",)
    assert kernel.link("vmnet-bo").mac == NIC4_MAC

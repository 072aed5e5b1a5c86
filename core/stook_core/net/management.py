"""The management network (bond ``mgmt-bo`` of its NICs in bridge ``mgmt-br``, the node IP on
the bridge or on VLAN device ``mgmt-br.<vid>``) as ``stook_core.net`` models: the installer
renders it at install time, the agent's safe-change path renders a changed copy of it.

NICs are matched by their permanent MAC when known. The bond and the bridge take the MAC of
the first NIC (as the kernel's bond and ifupdown do) and DHCP identifies itself by that MAC,
so a DHCP reservation made for the server's first NIC applies to the node (networkd would
otherwise invent a MAC and use a DUID): docs/decisions.md "Management network MAC".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stook_core.config.model import ManagementInterface, NicRef
from stook_core.hardware import Nic
from stook_core.net.model import Bond, Bridge, BridgePort, IpConfig, NetworkSetup, Port, Vlan

BOND, BRIDGE = "mgmt-bo", "mgmt-br"


def ip_interface(net: ManagementInterface) -> str:
    """The interface that carries the node IP (kube-vip and RKE2 use it too)."""
    return f"{BRIDGE}.{net.vlan_id}" if net.vlan_id else BRIDGE


def find_nic(ref: NicRef, nics: list[Nic]) -> Nic | None:
    """The NIC *ref* names; with a name and a MAC both must fit the same NIC. A MAC is the
    permanent one first: an enslaved NIC's current MAC is the bond's (its first port's), so
    the current address is tried only when no NIC has that permanent MAC."""

    def fits(nic: Nic, mac: str | None) -> bool:
        return (ref.name is None or ref.name == nic.name) and (ref.mac is None or ref.mac == mac)

    return next((n for n in nics if fits(n, n.identity_mac)), None) or next(
        (n for n in nics if fits(n, n.mac.lower())), None
    )


def _ports(net: ManagementInterface, nics: list[Nic] | None) -> tuple[list[Port], str | None]:
    """The bond's ports, and the MAC the bond and bridge take (the first NIC's). With the
    machine's *nics*, each NIC as it reports itself: matched by its permanent MAC, or by name
    when it has none; without them (or for a NIC they lack), as configured."""
    primary = net.bond.options.get("primary")
    ports, macs = [], []
    for ref in net.nics:
        nic = find_nic(ref, nics) if nics is not None else None
        name, permanent, mac = (
            (nic.name, nic.permanent_mac, nic.identity_mac) if nic else (ref.name, ref.mac, ref.mac)
        )
        ports.append(
            Port(
                name=name, permanent_mac=permanent, primary=primary is not None and primary == name
            )
        )
        macs.append(mac)
    return ports, macs[0] if macs else None


def network_setup(
    net: ManagementInterface, dns_servers: Iterable[object], nics: Sequence[Nic] | None = None
) -> NetworkSetup:
    """The core network model of management interface *net* (on *nics* when given)."""
    options = {k: v for k, v in net.bond.options.items() if k != "primary"}
    ports, mac = _ports(net, list(nics) if nics is not None else None)
    bond = Bond(BOND, tuple(ports), net.bond.mode, net.bond.miimon, options, mac, net.mtu)
    vlans = (net.vlan_id,) if net.vlan_id else ()
    bridge = Bridge(
        name=BRIDGE,
        ports=(BridgePort(BOND, vlans, net.mtu),),
        mac=mac,
        mtu=net.mtu,
        vlans=vlans,
    )
    vlan = Vlan(ip_interface(net), net.vlan_id, BRIDGE, net.mtu) if net.vlan_id else None
    ip = IpConfig(
        dhcp=net.method == "dhcp",
        address=str(net.address) if net.address else None,
        gateway=str(net.gateway) if net.gateway else None,
        dns=tuple(str(server) for server in dns_servers),
    )
    return NetworkSetup(bond, bridge, ip, vlan)

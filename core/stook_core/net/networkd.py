"""A NetworkSetup as systemd-networkd unit files (systemd.netdev(5), systemd.network(5)).

Ports match by ``PermanentMACAddress=``: an enslaved port's current MAC is the bond's, and the
bond and the bridge carry the first port's MAC, so ``MACAddress=`` would match them too
(networkd then tries to enslave the bond to itself). With a VLAN the bridge carries no address
(``LinkLocalAddressing=no``, up without carrier) and the VLAN device holds the node IP.
"""

from __future__ import annotations

from dataclasses import dataclass

from stook_core.net.bond import BOND_OPTIONS
from stook_core.net.model import Bond, Bridge, IpConfig, NetworkSetup, Port, Vlan

NETWORKD_DIR = "/etc/systemd/network"
HEADER = "# Written by the Stook installer.\n"

Entries = list[tuple[str, str]]
Sections = list[tuple[str, Entries]]


@dataclass(frozen=True)
class UnitFile:
    name: str  # 10-mgmt-bo.netdev
    text: str

    @property
    def path(self) -> str:
        return f"{NETWORKD_DIR}/{self.name}"


def unit(sections: Sections) -> str:
    """INI text of *sections*, leaving out empty ones."""
    blocks = []
    for name, entries in sections:
        if entries:
            blocks.append("\n".join([f"[{name}]", *(f"{key}={value}" for key, value in entries)]))
    return HEADER + "\n\n".join(blocks) + "\n"


def _mtu(mtu: int) -> Entries:
    return [("MTUBytes", str(mtu))] if mtu else []


def _mac(mac: str | None) -> Entries:
    return [("MACAddress", mac)] if mac else []


def bond_entries(bond: Bond) -> Entries:
    """The ``[Bond]`` section: mode, MII monitoring, then the options networkd has keys for
    (``num_grat_arp`` and ``num_unsol_na`` are one kernel setting: written once)."""
    entries: Entries = [("Mode", bond.mode), ("MIIMonitorSec", f"{bond.miimon_ms}ms")]
    written = set()
    for name, value in sorted(bond.options.items()):
        option = BOND_OPTIONS[name]
        if option.networkd is not None and option.networkd not in written:
            written.add(option.networkd)
            entries.append((option.networkd, option.networkd_value(value)))
    return entries


def _bond_netdev(bond: Bond) -> UnitFile:
    netdev = [("Name", bond.name), ("Kind", "bond"), *_mtu(bond.mtu), *_mac(bond.mac)]
    return UnitFile(
        f"10-{bond.name}.netdev", unit([("NetDev", netdev), ("Bond", bond_entries(bond))])
    )


def _bridge_netdev(bridge: Bridge) -> UnitFile:
    settings = [
        ("VLANFiltering", "yes" if bridge.vlan_filtering else "no"),
        ("STP", "yes" if bridge.stp else "no"),
        ("ForwardDelaySec", str(bridge.forward_delay_s)),
        ("DefaultPVID", str(bridge.default_pvid)),
    ]
    netdev = [("Name", bridge.name), ("Kind", "bridge"), *_mtu(bridge.mtu), *_mac(bridge.mac)]
    return UnitFile(f"10-{bridge.name}.netdev", unit([("NetDev", netdev), ("Bridge", settings)]))


def _port_network(bond: Bond, index: int, port: Port) -> UnitFile:
    match = (
        [("PermanentMACAddress", port.permanent_mac)]
        if port.permanent_mac
        else [("Name", port.name or "")]
    )
    network = [("Bond", bond.name), *([("PrimarySlave", "yes")] if port.primary else [])]
    sections = [("Match", match), ("Link", _mtu(bond.mtu)), ("Network", network)]
    return UnitFile(f"20-{bond.name}-port{index}.network", unit(sections))


def _vlan_netdev(vlan: Vlan) -> UnitFile:
    netdev = [("Name", vlan.name), ("Kind", "vlan"), *_mtu(vlan.mtu)]
    return UnitFile(
        f"10-{vlan.name}.netdev", unit([("NetDev", netdev), ("VLAN", [("Id", str(vlan.id))])])
    )


def address_sections(ip: IpConfig) -> Sections:
    """``[Network]`` and ``[DHCPv4]`` of the interface carrying the node IP. DHCP identifies
    by the MAC (the first port's), so a reservation made for the server's NIC applies."""
    entries: Entries = []
    dhcp: Entries = []
    if ip.dhcp:
        entries.append(("DHCP", "ipv4"))
        dhcp.append(("ClientIdentifier", "mac"))
    else:
        entries += [("Address", str(ip.address)), ("Gateway", str(ip.gateway))]
    entries += [("DNS", server) for server in ip.dns]
    return [("Network", entries), ("DHCPv4", dhcp)]


def _bridge_ports(setup: NetworkSetup) -> list[UnitFile]:
    files = []
    for port in setup.bridge.ports:
        vlans = [("BridgeVLAN", [("VLAN", str(vid))]) for vid in port.vlans]
        sections: Sections = [
            ("Match", [("Name", port.name)]),
            ("Link", _mtu(port.mtu)),
            ("Network", [("Bridge", setup.bridge.name)]),
            *vlans,
        ]
        files.append(UnitFile(f"30-{port.name}.network", unit(sections)))
    return files


def _bridge_network(setup: NetworkSetup) -> list[UnitFile]:
    bridge, vlan = setup.bridge, setup.vlan
    head: Sections = [("Match", [("Name", bridge.name)]), ("Link", _mtu(bridge.mtu))]
    if vlan is None:
        return [UnitFile(f"30-{bridge.name}.network", unit([*head, *address_sections(setup.ip)]))]
    network = [
        ("VLAN", vlan.name),
        ("LinkLocalAddressing", "no"),
        ("ConfigureWithoutCarrier", "yes"),
    ]
    own = [("BridgeVLAN", [("VLAN", str(vid))]) for vid in bridge.vlans]
    carrier: Sections = [("Match", [("Name", vlan.name)]), ("Link", _mtu(vlan.mtu))]
    return [
        UnitFile(f"30-{bridge.name}.network", unit([*head, ("Network", network), *own])),
        UnitFile(f"40-{vlan.name}.network", unit([*carrier, *address_sections(setup.ip)])),
    ]


def render(setup: NetworkSetup) -> list[UnitFile]:
    """Every unit file of *setup*, sorted by name (the order networkd reads them in)."""
    files = [_bond_netdev(setup.bond), _bridge_netdev(setup.bridge)]
    files += [_port_network(setup.bond, i, port) for i, port in enumerate(setup.bond.ports)]
    if setup.vlan is not None:
        files.append(_vlan_netdev(setup.vlan))
    files += _bridge_ports(setup)
    files += _bridge_network(setup)
    return sorted(files, key=lambda f: f.name)

"""The management network as systemd-networkd files.

NICs (matched by MAC when known) are ports of bond ``mgmt-bo``; the bond is a port of the
VLAN-filtering bridge ``mgmt-br`` (STP off, forward delay 0). Without a VLAN the bridge carries
the node IP; with one, the bond port is tagged with the VID and VLAN device ``mgmt-br.<vid>``
carries it. Bond options use the kernel's names in the config and networkd's here.

The bond and the bridge take the MAC of the first NIC (as the kernel's bond and ifupdown do)
and DHCP identifies itself by that MAC, so a DHCP reservation made for the server's first
NIC applies to the node (networkd would otherwise invent a MAC and use a DUID):
docs/decisions.md "Management network MAC".
"""

from __future__ import annotations

from stook_core.config.model import InstallSpec, ManagementInterface, NicRef
from stook_installer.engine.nodefile import NodeFile

BOND, BRIDGE = "mgmt-bo", "mgmt-br"
NETWORKD = "/etc/systemd/network"

# kernel bonding option -> (networkd [Bond] key, unit suffix for millisecond values)
_BOND_KEYS: dict[str, tuple[str, str]] = {
    "ad_select": ("AdSelect", ""),
    "all_slaves_active": ("AllSlavesActive", ""),
    "arp_all_targets": ("ARPAllTargets", ""),
    "arp_interval": ("ARPIntervalSec", "ms"),
    "arp_ip_target": ("ARPIPTargets", ""),
    "arp_validate": ("ARPValidate", ""),
    "downdelay": ("DownDelaySec", "ms"),
    "fail_over_mac": ("FailOverMACPolicy", ""),
    "lacp_rate": ("LACPTransmitRate", ""),
    "lp_interval": ("LearnPacketIntervalSec", ""),
    "min_links": ("MinLinks", ""),
    "num_grat_arp": ("GratuitousARP", ""),
    "num_unsol_na": ("GratuitousARP", ""),
    "packets_per_slave": ("PacketsPerSlave", ""),
    "primary_reselect": ("PrimaryReselectPolicy", ""),
    "resend_igmp": ("ResendIGMP", ""),
    "tlb_dynamic_lb": ("DynamicTransmitLoadBalancing", ""),
    "updelay": ("UpDelaySec", "ms"),
    "xmit_hash_policy": ("TransmitHashPolicy", ""),
}
# Options networkd has no key for: the kernel default applies (documented).
UNSUPPORTED_BOND_OPTIONS = frozenset({"use_carrier", "primary"})


def _unit(sections: list[tuple[str, list[tuple[str, str]]]]) -> str:
    blocks = []
    for name, entries in sections:
        if not entries:
            continue
        lines = [f"[{name}]", *(f"{key}={value}" for key, value in entries)]
        blocks.append("\n".join(lines))
    return "# Written by the Stook installer.\n" + "\n\n".join(blocks) + "\n"


def _mtu(net: ManagementInterface) -> list[tuple[str, str]]:
    return [("MTUBytes", str(net.mtu))] if net.mtu else []


def _mac(mac: str | None) -> list[tuple[str, str]]:
    return [("MACAddress", mac)] if mac else []


def _bond_netdev(net: ManagementInterface, mac: str | None) -> NodeFile:
    bond = [("Mode", net.bond.mode), ("MIIMonitorSec", f"{net.bond.miimon}ms")]
    for option, value in sorted(net.bond.options.items()):
        if option in _BOND_KEYS:
            key, suffix = _BOND_KEYS[option]
            bond.append((key, f"{value}{suffix}"))
    netdev = [("Name", BOND), ("Kind", "bond"), *_mtu(net), *_mac(mac)]
    sections = [("NetDev", netdev), ("Bond", bond)]
    return NodeFile(f"{NETWORKD}/10-{BOND}.netdev", _unit(sections))


def _bridge_netdev(net: ManagementInterface, mac: str | None) -> NodeFile:
    bridge = [
        ("VLANFiltering", "yes"),
        ("STP", "no"),
        ("ForwardDelaySec", "0"),
        ("DefaultPVID", "1"),
    ]
    netdev = [("Name", BRIDGE), ("Kind", "bridge"), *_mtu(net), *_mac(mac)]
    sections = [("NetDev", netdev), ("Bridge", bridge)]
    return NodeFile(f"{NETWORKD}/10-{BRIDGE}.netdev", _unit(sections))


def _port_files(net: ManagementInterface, ports: list[NicRef]) -> list[NodeFile]:
    primary = net.bond.options.get("primary")
    files = []
    for index, nic in enumerate(ports):
        # The permanent (burnt-in) MAC: a port's current MAC becomes the bond's when enslaved,
        # and the bond and the bridge carry the first port's MAC, so MACAddress= would match
        # them too (networkd then tries to enslave the bond to itself).
        match = [("PermanentMACAddress", nic.mac)] if nic.mac else [("Name", nic.name or "")]
        network = [("Bond", BOND)]
        if primary is not None and primary == nic.name:
            network.append(("PrimarySlave", "yes"))
        sections = [("Match", match), ("Link", _mtu(net)), ("Network", network)]
        files.append(NodeFile(f"{NETWORKD}/20-{BOND}-port{index}.network", _unit(sections)))
    return files


def _address(spec: InstallSpec) -> list[tuple[str, list[tuple[str, str]]]]:
    """The [Network] (and [DHCPv4]) sections of the interface carrying the node IP."""
    net = spec.management_interface
    entries: list[tuple[str, str]] = []
    dhcp: list[tuple[str, str]] = []
    if net.method == "dhcp":
        entries.append(("DHCP", "ipv4"))
        dhcp.append(("ClientIdentifier", "mac"))
    else:
        entries += [("Address", str(net.address)), ("Gateway", str(net.gateway))]
    entries += [("DNS", str(server)) for server in spec.dns_servers]
    return [("Network", entries), ("DHCPv4", dhcp)]


def ip_interface(net: ManagementInterface) -> str:
    """The interface that carries the node IP (kube-vip and RKE2 use it too)."""
    return f"{BRIDGE}.{net.vlan_id}" if net.vlan_id else BRIDGE


def network_files(spec: InstallSpec, ports: list[NicRef] | None = None) -> list[NodeFile]:
    """*ports*: the chosen NICs with the MACs the machine reported (default: as configured)."""
    net = spec.management_interface
    ports = ports or net.nics
    mac = ports[0].mac if ports else None
    files = [_bond_netdev(net, mac), _bridge_netdev(net, mac), *_port_files(net, ports)]
    bond_port: list[tuple[str, list[tuple[str, str]]]] = [
        ("Match", [("Name", BOND)]),
        ("Link", _mtu(net)),
        ("Network", [("Bridge", BRIDGE)]),
    ]
    if net.vlan_id:
        vid = str(net.vlan_id)
        bond_port.append(("BridgeVLAN", [("VLAN", vid)]))
        vlan = ip_interface(net)
        files.append(
            NodeFile(
                f"{NETWORKD}/10-{vlan}.netdev",
                _unit(
                    [
                        ("NetDev", [("Name", vlan), ("Kind", "vlan"), *_mtu(net)]),
                        ("VLAN", [("Id", vid)]),
                    ]
                ),
            )
        )
        bridge = [
            ("Match", [("Name", BRIDGE)]),
            ("Link", _mtu(net)),
            (
                "Network",
                [("VLAN", vlan), ("LinkLocalAddressing", "no"), ("ConfigureWithoutCarrier", "yes")],
            ),
            ("BridgeVLAN", [("VLAN", vid)]),
        ]
        carrier = [("Match", [("Name", vlan)]), ("Link", _mtu(net)), *_address(spec)]
        files.append(NodeFile(f"{NETWORKD}/40-{vlan}.network", _unit(carrier)))
    else:
        bridge = [("Match", [("Name", BRIDGE)]), ("Link", _mtu(net)), *_address(spec)]
    files.append(NodeFile(f"{NETWORKD}/30-{BOND}.network", _unit(bond_port)))
    files.append(NodeFile(f"{NETWORKD}/30-{BRIDGE}.network", _unit(bridge)))
    return sorted(files, key=lambda f: f.path)

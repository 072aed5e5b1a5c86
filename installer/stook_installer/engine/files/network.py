"""The management network of an InstallConfig as systemd-networkd files.

NICs (matched by their permanent MAC when known) are ports of bond ``mgmt-bo``; the bond is a
port of the VLAN-filtering bridge ``mgmt-br`` (STP off, forward delay 0). Without a VLAN the
bridge carries the node IP; with one, the bond port is tagged with the VID and VLAN device
``mgmt-br.<vid>`` carries it. This module only maps the config onto ``stook_core.net``'s
models; the renderer there writes the files.

The bond and the bridge take the MAC of the first NIC (as the kernel's bond and ifupdown do)
and DHCP identifies itself by that MAC, so a DHCP reservation made for the server's first
NIC applies to the node (networkd would otherwise invent a MAC and use a DUID):
docs/decisions.md "Management network MAC".
"""

from __future__ import annotations

from stook_core.config.model import InstallSpec, ManagementInterface, NicRef
from stook_core.net import Bond, Bridge, BridgePort, IpConfig, NetworkSetup, Port, Vlan, render
from stook_installer.engine.nodefile import NodeFile

BOND, BRIDGE = "mgmt-bo", "mgmt-br"


def ip_interface(net: ManagementInterface) -> str:
    """The interface that carries the node IP (kube-vip and RKE2 use it too)."""
    return f"{BRIDGE}.{net.vlan_id}" if net.vlan_id else BRIDGE


def network_setup(spec: InstallSpec, ports: list[NicRef]) -> NetworkSetup:
    """The core network model of *spec*'s management interface on *ports*."""
    net = spec.management_interface
    options = dict(net.bond.options)
    primary = options.pop("primary", None)
    mac = ports[0].mac if ports else None
    bond = Bond(
        name=BOND,
        ports=tuple(
            Port(
                name=p.name, permanent_mac=p.mac, primary=primary is not None and primary == p.name
            )
            for p in ports
        ),
        mode=net.bond.mode,
        miimon_ms=net.bond.miimon,
        options=options,
        mac=mac,
        mtu=net.mtu,
    )
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
        dns=tuple(str(server) for server in spec.dns_servers),
    )
    return NetworkSetup(bond, bridge, ip, vlan)


def network_files(spec: InstallSpec, ports: list[NicRef] | None = None) -> list[NodeFile]:
    """*ports*: the chosen NICs with the permanent MACs the machine reported (default: as
    configured)."""
    setup = network_setup(spec, ports or spec.management_interface.nics)
    return [NodeFile(unit.path, unit.text) for unit in render(setup)]

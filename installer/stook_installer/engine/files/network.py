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

from stook_core.config.model import InstallSpec, ManagementInterface
from stook_core.hardware import Machine
from stook_core.net import Bond, Bridge, BridgePort, IpConfig, NetworkSetup, Port, Vlan, render
from stook_installer.engine.nodefile import NodeFile
from stook_installer.engine.preflight import find_nic

BOND, BRIDGE = "mgmt-bo", "mgmt-br"


def ip_interface(net: ManagementInterface) -> str:
    """The interface that carries the node IP (kube-vip and RKE2 use it too)."""
    return f"{BRIDGE}.{net.vlan_id}" if net.vlan_id else BRIDGE


def _ports(spec: InstallSpec, machine: Machine | None) -> tuple[list[Port], str | None]:
    """The bond's ports, and the MAC the bond and bridge take (the first NIC's). With a
    machine, each NIC as it reports itself: matched by its permanent MAC, or by name when it
    has none; without one (or for a NIC it lacks), as configured."""
    net = spec.management_interface
    primary = net.bond.options.get("primary")
    ports, macs = [], []
    for ref in net.nics:
        nic = find_nic(ref, machine.nics) if machine is not None else None
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


def network_setup(spec: InstallSpec, machine: Machine | None = None) -> NetworkSetup:
    """The core network model of *spec*'s management interface (on *machine*'s NICs)."""
    net = spec.management_interface
    options = {k: v for k, v in net.bond.options.items() if k != "primary"}
    ports, mac = _ports(spec, machine)
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
        dns=tuple(str(server) for server in spec.dns_servers),
    )
    return NetworkSetup(bond, bridge, ip, vlan)


def network_files(spec: InstallSpec, machine: Machine | None = None) -> list[NodeFile]:
    """The networkd files of *spec*, for *machine*'s NICs when given (else as configured)."""
    return [NodeFile(unit.path, unit.text) for unit in render(network_setup(spec, machine))]

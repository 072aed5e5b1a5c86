"""Typed models of a node's network devices, as systemd-networkd sets them up.

Plain frozen dataclasses with no I/O: the installer builds them from an InstallConfig, the
agent's network controllers will build them from cluster objects, and ``networkd.render``
turns them into unit files. Bond option values are canonical (``stook_core.net.bond``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Port:
    """A physical NIC enslaved to a bond. Matched by its permanent (burnt-in) MAC when known:
    a port's current MAC becomes the bond's once enslaved, so only the permanent one tells the
    NICs (and the bond) apart; else by name."""

    name: str | None = None
    permanent_mac: str | None = None
    primary: bool = False  # the bond's preferred active port (PrimarySlave=)


@dataclass(frozen=True)
class Bond:
    name: str
    ports: tuple[Port, ...]
    mode: str = "active-backup"
    miimon_ms: int = 100
    options: Mapping[str, str] = field(default_factory=dict)  # canonical kernel values
    mac: str | None = None
    mtu: int = 0  # 0: the default


@dataclass(frozen=True)
class BridgePort:
    """A device in a bridge; *vlans* are the VLAN ids it carries tagged."""

    name: str
    vlans: tuple[int, ...] = ()
    mtu: int = 0


@dataclass(frozen=True)
class Bridge:
    """A VLAN-aware bridge (VLANFiltering) with STP off and no forward delay: the node's only
    uplink is the bond, so there is no loop to guard against and no reason to wait."""

    name: str
    ports: tuple[BridgePort, ...]
    vlan_filtering: bool = True
    stp: bool = False
    forward_delay_s: int = 0
    default_pvid: int = 1
    mac: str | None = None
    mtu: int = 0
    vlans: tuple[int, ...] = ()  # VLANs of the bridge itself (its VLAN devices' traffic)


@dataclass(frozen=True)
class Vlan:
    """An 802.1Q VLAN device on *parent*."""

    name: str
    id: int
    parent: str
    mtu: int = 0


@dataclass(frozen=True)
class IpConfig:
    """The addresses of the interface that carries the node IP."""

    dhcp: bool
    address: str | None = None  # static: a.b.c.d/nn
    gateway: str | None = None
    dns: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkSetup:
    """A bond in a bridge, optionally a VLAN device on the bridge; *carrier* names the device
    holding *ip* (the bridge, or the VLAN device)."""

    bond: Bond
    bridge: Bridge
    ip: IpConfig
    vlan: Vlan | None = None

    @property
    def carrier(self) -> str:
        return self.vlan.name if self.vlan else self.bridge.name

"""A cluster network on one node: bond ``<cn>-bo`` of its NICs, the bond the only port of
VLAN-filtering bridge ``<cn>-br``, the network's VLAN IDs on the bond port.

``apply`` makes the kernel match a ``ClusterNetworkSpec`` (idempotent: a second call changes
nothing) and ``remove`` undoes it, giving the NICs back up and unenslaved. The bond carries
its first NIC's permanent MAC (the kernel would give it udev's or a random one: neither is
what a DHCP reservation or a switch's port security expects, nor stable across reboots). A
NIC the node uses elsewhere (a port of the management network, of another cluster network or
of any other master, or carrying an address) is refused before anything is touched: the whole
spec is refused, nothing is taken (``RefusedError``). The bridge's default PVID 1 is the
kernel's and is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stook_core.net.links import Link, Netlink

BOND_SUFFIX, BRIDGE_SUFFIX = "-bo", "-br"
MANAGEMENT = "mgmt"
DEFAULT_PVID = 1
MAX_IFNAME = 15
LOOPBACK = "lo"


def bond_name(network: str) -> str:
    return f"{network}{BOND_SUFFIX}"


def bridge_name(network: str) -> str:
    return f"{network}{BRIDGE_SUFFIX}"


def owner_network(device: str | None) -> str | None:
    """The network a bond or bridge named ``<cn>-bo`` / ``<cn>-br`` belongs to."""
    if device and device.endswith((BOND_SUFFIX, BRIDGE_SUFFIX)):
        return device[: -len(BOND_SUFFIX)]
    return None


@dataclass(frozen=True)
class NicSelector:
    """A NIC by name, by MAC (its permanent one first: survives renames), or both."""

    name: str | None = None
    mac: str | None = None

    def __str__(self) -> str:
        return " ".join(part for part in (self.name, self.mac) if part) or "(nothing)"

    def find(self, links: Iterable[Link]) -> Link | None:
        """The plain NIC this selects; a MAC matches the permanent one, else the current."""
        nics = [link for link in links if link.kind is None and link.name != LOOPBACK]
        mac = self.mac.lower() if self.mac else None

        def fits(link: Link, address: str) -> bool:
            return (self.name is None or self.name == link.name) and (mac is None or mac == address)

        return next((n for n in nics if fits(n, n.identity_mac)), None) or next(
            (n for n in nics if fits(n, n.mac)), None
        )


@dataclass(frozen=True)
class ClusterNetworkSpec:
    network: str
    nics: tuple[NicSelector, ...]
    mode: str = "active-backup"
    miimon_ms: int = 100
    options: Mapping[str, str] = field(default_factory=dict)  # canonical (stook_core.net.bond)
    mtu: int = 0  # 0: leave the kernel's
    vlans: tuple[int, ...] = ()

    @property
    def bond(self) -> str:
        return bond_name(self.network)

    @property
    def bridge(self) -> str:
        return bridge_name(self.network)


@dataclass(frozen=True)
class Refusal:
    nic: str  # as the spec names it
    reason: str

    def __str__(self) -> str:
        return f"NIC {self.nic} {self.reason}"


class RefusedError(Exception):
    """The spec takes a NIC the node uses elsewhere (or that it does not have)."""

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("; ".join(str(r) for r in refusals) + "; nothing was changed")


@dataclass(frozen=True)
class Applied:
    """What the network holds on the node now: its NICs (kernel names) and VLAN IDs."""

    nics: tuple[str, ...]
    vlans: tuple[int, ...]
    changes: tuple[str, ...]  # what this call did, in order (empty: already as specified)


def _refusal(link: Link, spec: ClusterNetworkSpec, by_name: Mapping[str, Link]) -> str | None:
    if link.master and link.master != spec.bond:
        master = by_name.get(link.master)
        top = by_name.get(master.master) if master and master.master else None
        owners = {owner_network(link.master), owner_network(top.name if top else None)}
        if MANAGEMENT in owners:
            return f"is a port of the management network ({link.master}): never taken"
        other = owner_network(link.master)
        if other is not None:
            return f"is a port of cluster network {other} ({link.master})"
        return f"is a port of {link.master}"
    if link.addresses:
        return f"carries {', '.join(link.addresses)}: the node uses it"
    return None


def resolve(spec: ClusterNetworkSpec, links: list[Link]) -> list[Link]:
    """The NICs of *spec*, in its order; ``RefusedError`` naming every NIC it may not take."""
    by_name = {link.name: link for link in links}
    nics = [n for n in links if n.kind is None and n.name != LOOPBACK]
    known = ", ".join(f"{n.name} ({n.identity_mac})" for n in nics) or "none"
    refusals, found, seen = [], [], set()
    if not spec.nics:
        raise RefusedError([Refusal("(none)", "given: a cluster network needs at least one NIC")])
    for selector in spec.nics:
        nic = selector.find(links)
        if nic is None:
            refusals.append(Refusal(str(selector), f"is not a NIC of this node (NICs: {known})"))
        elif nic.name in seen:
            refusals.append(Refusal(str(selector), f"is {nic.name}, named twice"))
        elif (reason := _refusal(nic, spec, by_name)) is not None:
            named = nic.name if selector.name == nic.name else f"{nic.name} ({selector})"
            refusals.append(Refusal(named, reason))
        else:
            seen.add(nic.name)
            found.append(nic)
    if refusals:
        raise RefusedError(refusals)
    return found


class _Steps:
    """The netlink calls of one apply, recorded for the status and the log."""

    def __init__(self, netlink: Netlink) -> None:
        self.netlink = netlink
        self.done: list[str] = []

    def note(self, what: str) -> None:
        self.done.append(what)


def _bond(steps: _Steps, spec: ClusterNetworkSpec, current: Link | None, mac: str) -> None:
    nl = steps.netlink
    if current is not None and (current.kind != "bond" or current.bond_mode != spec.mode):
        # The kernel changes a bond's mode only without ports: build it anew (its ports given
        # back up first: a released port is left down).
        for link in nl.links():
            if link.master == spec.bond:
                nl.set_master(link.name, None)
                nl.set_up(link.name, True)
        nl.delete(spec.bond)
        steps.note(f"deleted {spec.bond} ({current.kind} mode {current.bond_mode})")
        current = None
    if current is None:
        nl.add_bond(spec.bond, spec.mode, spec.miimon_ms, mac or None)
        for option, value in sorted(spec.options.items()):
            nl.set_bond_option(spec.bond, option, value)
        steps.note(f"created bond {spec.bond} ({spec.mode})")


def _ports(steps: _Steps, spec: ClusterNetworkSpec, nics: list[Link], links: list[Link]) -> None:
    nl = steps.netlink
    wanted = {nic.name for nic in nics}
    for link in links:
        if link.master == spec.bond and link.name not in wanted:
            nl.set_master(link.name, None)
            nl.set_up(link.name, True)
            steps.note(f"released {link.name}")
    for nic in nics:
        if nic.master != spec.bond:
            nl.set_up(nic.name, False)  # the kernel enslaves only a link that is down
            nl.set_master(nic.name, spec.bond)
            steps.note(f"enslaved {nic.name} to {spec.bond}")
        nl.set_up(nic.name, True)


def _vlans(steps: _Steps, spec: ClusterNetworkSpec) -> None:
    nl = steps.netlink
    have = nl.port_vlans(spec.bond)
    want = set(spec.vlans)
    for vid in sorted(want - have):
        nl.add_vlan(spec.bond, vid)
        steps.note(f"VLAN {vid} on {spec.bond}")
    for vid in sorted(have - want - {DEFAULT_PVID}):
        nl.del_vlan(spec.bond, vid)
        steps.note(f"VLAN {vid} off {spec.bond}")


def apply(netlink: Netlink, spec: ClusterNetworkSpec) -> Applied:
    """Make the node's links match *spec*; ``RefusedError`` before any change when it may not."""
    links = netlink.links()
    nics = resolve(spec, links)
    by_name = {link.name: link for link in links}
    steps = _Steps(netlink)
    netlink.bridge_netfilter_off()
    mac = nics[0].identity_mac  # the first NIC's permanent MAC: what DHCP and switches know
    _bond(steps, spec, by_name.get(spec.bond), mac)
    links = netlink.links()
    by_name = {link.name: link for link in links}
    _ports(steps, spec, [by_name[nic.name] for nic in nics], links)
    bridge = by_name.get(spec.bridge)
    if bridge is not None and bridge.kind != "bridge":
        netlink.delete(spec.bridge)
        bridge = None
    if bridge is None:
        netlink.add_bridge(spec.bridge)
        steps.note(f"created VLAN-filtering bridge {spec.bridge}")
    links = netlink.links()
    by_name = {link.name: link for link in links}
    if spec.mtu:
        for name in (*(nic.name for nic in nics), spec.bond, spec.bridge):
            if by_name[name].mtu != spec.mtu:
                netlink.set_mtu(name, spec.mtu)
                steps.note(f"MTU {spec.mtu} on {name}")
    if mac and by_name[spec.bond].mac != mac:
        netlink.set_mac(spec.bond, mac)
        steps.note(f"MAC {mac} on {spec.bond} (that of {nics[0].name})")
    if by_name[spec.bond].master != spec.bridge:
        netlink.set_master(spec.bond, spec.bridge)
        steps.note(f"{spec.bond} a port of {spec.bridge}")
    for name in (spec.bond, spec.bridge):
        if not by_name[name].up:
            netlink.set_up(name, True)
    _vlans(steps, spec)
    return Applied(tuple(nic.name for nic in nics), tuple(sorted(spec.vlans)), tuple(steps.done))


def remove(netlink: Netlink, network: str) -> tuple[str, ...]:
    """Undo *network* on the node: its NICs released and up, bond and bridge gone. The NICs
    it gave back; nothing when the network was not there."""
    links = netlink.links()
    bond, bridge = bond_name(network), bridge_name(network)
    released = []
    for link in links:
        if link.master == bond:
            netlink.set_master(link.name, None)
            netlink.set_up(link.name, True)
            released.append(link.name)
    names = {link.name for link in links}
    for name in (bridge, bond):
        if name in names:
            netlink.delete(name)
    return tuple(released)


def networks_present(links: Iterable[Link]) -> set[str]:
    """Cluster networks whose bond or bridge exists on the node (not the management one)."""
    found = {owner_network(link.name) for link in links if link.kind in ("bond", "bridge")}
    return {name for name in found if name and name != MANAGEMENT}

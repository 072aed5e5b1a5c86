"""The kernel's links as the network controllers see them, and the one boundary that changes
them: ``Netlink`` (a Protocol), implemented by ``Pyroute2Netlink`` over pyroute2's IPRoute (or
a NetNS in tests). Everything above it (``stook_core.net.cluster``) is plain logic over
``Link`` values, so unit tests put a fake kernel at exactly this boundary.

Bond options go through sysfs (``/sys/class/net/<bond>/bonding/<option>``), which takes the
kernel's canonical option values, the form ``stook_core.net.bond`` keeps them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stook_core.net.bond import BOND_MODES

SYS_NET = Path("/sys/class/net")
PROC_BRIDGE_NF = Path("/proc/sys/net/bridge")
BRIDGE_NF_KNOBS = tuple(f"bridge-nf-call-{t}" for t in ("iptables", "ip6tables", "arptables"))
IFF_UP = 0x1
_ZERO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class Link:
    """One network interface. *kind* is the rtnetlink kind (``bond``, ``bridge``, ``vlan``,
    ``veth``) or None for a plain NIC; *master* names the bond or bridge it is a port of."""

    name: str
    index: int = 0
    kind: str | None = None
    master: str | None = None
    mac: str = ""
    permanent_mac: str | None = None
    up: bool = False  # administratively up (IFF_UP)
    carrier: bool = False
    mtu: int = 1500
    addresses: tuple[str, ...] = ()  # global-scope addresses, a.b.c.d/nn
    bond_mode: str | None = None

    @property
    def identity_mac(self) -> str:
        """The permanent MAC, else the current one (``stook_core.hardware.Nic`` alike)."""
        return self.permanent_mac or self.mac


class Netlink(Protocol):
    """What the cluster-network reconciler asks of the kernel."""

    def links(self) -> list[Link]: ...

    def port_vlans(self, name: str) -> set[int]:
        """The VLAN IDs bridge port *name* carries (``bridge vlan show dev NAME``)."""
        ...

    def add_bond(self, name: str, mode: str, miimon_ms: int, mac: str | None = None) -> None:
        """A bond; *mac* given at creation, so udev's MACAddressPolicy leaves it alone."""
        ...

    def set_bond_option(self, name: str, option: str, value: str) -> None: ...

    def add_bridge(self, name: str) -> None:
        """A VLAN-filtering bridge, STP off, no forward delay, its netfilter calls off."""
        ...

    def set_master(self, name: str, master: str | None) -> None: ...

    def set_up(self, name: str, up: bool) -> None: ...

    def set_mtu(self, name: str, mtu: int) -> None: ...

    def set_mac(self, name: str, mac: str) -> None: ...

    def add_vlan(self, port: str, vid: int) -> None: ...

    def del_vlan(self, port: str, vid: int) -> None: ...

    def delete(self, name: str) -> None: ...

    def bridge_netfilter_off(self) -> None:
        """The global bridge-nf-call-* knobs off (when br_netfilter is loaded)."""
        ...


def _mac(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.lower()
    return value if value and value != _ZERO_MAC else None


def _kind(message: Any) -> str | None:
    info = message.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    return kind if isinstance(kind, str) else None


def _bond_mode(message: Any) -> str | None:
    info = message.get_attr("IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    mode = data.get_attr("IFLA_BOND_MODE") if data is not None else None
    return BOND_MODES[mode] if isinstance(mode, int) and 0 <= mode < len(BOND_MODES) else None


def vlan_ids(messages: Iterable[Any]) -> dict[int, set[int]]:
    """VLAN IDs by interface index from an AF_BRIDGE dump with RTEXT_FILTER_BRVLAN."""
    found: dict[int, set[int]] = {}
    for message in messages:
        spec = message.get_attr("IFLA_AF_SPEC")
        if spec is None:
            continue
        vids = found.setdefault(int(message["index"]), set())
        for info in spec.get_attrs("IFLA_BRIDGE_VLAN_INFO"):
            vids.add(int(info["vid"]))
    return found


class Pyroute2Netlink:
    """``Netlink`` over a pyroute2 IPRoute (or NetNS); *sysfs* is /sys/class/net of the same
    network namespace (bond options), *proc_bridge* its /proc/sys/net/bridge."""

    def __init__(self, ipr: Any, sysfs: Path = SYS_NET, proc_bridge: Path = PROC_BRIDGE_NF) -> None:
        self._ipr = ipr
        self._sysfs = sysfs
        self._proc_bridge = proc_bridge

    def _index(self, name: str) -> int:
        found = self._ipr.link_lookup(ifname=name)
        if not found:
            raise LookupError(f"no network interface {name}")
        return int(found[0])

    def links(self) -> list[Link]:
        messages = list(self._ipr.get_links())
        names = {int(m["index"]): str(m.get_attr("IFLA_IFNAME")) for m in messages}
        addresses: dict[int, list[str]] = {}
        for address in self._ipr.get_addr():
            if address["scope"] == 0:  # RT_SCOPE_UNIVERSE: not link-local, not host
                text = f"{address.get_attr('IFA_ADDRESS')}/{address['prefixlen']}"
                addresses.setdefault(int(address["index"]), []).append(text)
        links = []
        for message in messages:
            index = int(message["index"])
            master = message.get_attr("IFLA_MASTER")
            links.append(
                Link(
                    name=names[index],
                    index=index,
                    kind=_kind(message),
                    master=names.get(int(master)) if master else None,
                    mac=_mac(message.get_attr("IFLA_ADDRESS")) or "",
                    permanent_mac=_mac(message.get_attr("IFLA_PERM_ADDRESS")),
                    up=bool(int(message["flags"]) & IFF_UP),
                    carrier=message.get_attr("IFLA_CARRIER") == 1,
                    mtu=int(message.get_attr("IFLA_MTU") or 0),
                    addresses=tuple(addresses.get(index, ())),
                    bond_mode=_bond_mode(message),
                )
            )
        return links

    def port_vlans(self, name: str) -> set[int]:
        index = self._index(name)
        return vlan_ids(self._ipr.get_vlans()).get(index, set())

    def add_bond(self, name: str, mode: str, miimon_ms: int, mac: str | None = None) -> None:
        address = {"address": mac} if mac else {}
        self._ipr.link(
            "add", ifname=name, kind="bond", bond_mode=BOND_MODES.index(mode),
            bond_miimon=miimon_ms, **address,
        )  # fmt: skip

    def set_bond_option(self, name: str, option: str, value: str) -> None:
        path = self._sysfs / name / "bonding" / option
        values = [value]
        if option == "arp_ip_target":  # sysfs adds one target per write
            values = [f"+{target}" for target in value.split(",")]
        for item in values:
            try:
                path.write_text(item + "\n")
            except OSError as error:
                raise OSError(f"{path}: the kernel refused {item!r} ({error})") from error

    def add_bridge(self, name: str) -> None:
        self._ipr.link(
            "add",
            ifname=name,
            kind="bridge",
            br_vlan_filtering=1,
            br_stp_state=0,
            br_forward_delay=0,
            br_nf_call_iptables=0,
            br_nf_call_ip6tables=0,
            br_nf_call_arptables=0,
        )

    def set_master(self, name: str, master: str | None) -> None:
        self._ipr.link("set", index=self._index(name), master=self._index(master) if master else 0)

    def set_up(self, name: str, up: bool) -> None:
        self._ipr.link("set", index=self._index(name), state="up" if up else "down")

    def set_mtu(self, name: str, mtu: int) -> None:
        self._ipr.link("set", index=self._index(name), mtu=mtu)

    def set_mac(self, name: str, mac: str) -> None:
        self._ipr.link("set", index=self._index(name), address=mac)

    def add_vlan(self, port: str, vid: int) -> None:
        self._ipr.vlan_filter("add", index=self._index(port), vlan_info={"vid": vid})

    def del_vlan(self, port: str, vid: int) -> None:
        self._ipr.vlan_filter("del", index=self._index(port), vlan_info={"vid": vid})

    def delete(self, name: str) -> None:
        self._ipr.link("del", index=self._index(name))

    def bridge_netfilter_off(self) -> None:
        for knob in BRIDGE_NF_KNOBS:
            path = self._proc_bridge / knob
            if path.exists():  # only while br_netfilter is loaded
                path.write_text("0\n")

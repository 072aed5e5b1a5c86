"""FakeNetlink: a test double of the kernel at stook_core.net.links.Netlink, for unit tests.

It keeps links in memory and enforces the kernel rules the reconciler must respect: a link is
enslaved only while down; a bond changes mode only without ports; VLAN IDs only on a port of a
VLAN-filtering bridge; releasing a port from a bond leaves it down (bond_release closes it,
the cause of harvester #3205); deleting a master releases its ports. The real kernel is
exercised in tests/integration/net (veth in a namespace) and the e2e tier (QEMU)."""

from __future__ import annotations

from dataclasses import replace

from stook_core.net.links import Link


class KernelError(OSError):
    pass


class FakeNetlink:
    def __init__(self, links: list[Link]) -> None:
        self._links = {link.name: link for link in links}
        self._vlans: dict[str, set[int]] = {}
        self.options: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []
        self.netfilter_off = False
        self._next = 100

    def links(self) -> list[Link]:
        return list(self._links.values())

    def link(self, name: str) -> Link:
        if name not in self._links:
            raise KernelError(f"no such device {name}")
        return self._links[name]

    def _set(self, name: str, **changes: object) -> None:
        self._links[name] = replace(self.link(name), **changes)  # type: ignore[arg-type]

    def _add(self, name: str, kind: str, **extra: object) -> None:
        if name in self._links:
            raise KernelError(f"{name} exists")
        self._next += 1
        self._links[name] = Link(name, self._next, kind, mac="02:00:00:00:00:99", **extra)  # type: ignore[arg-type]

    def port_vlans(self, name: str) -> set[int]:
        self.link(name)
        return set(self._vlans.get(name, set()))

    def add_bond(self, name: str, mode: str, miimon_ms: int, mac: str | None = None) -> None:
        self.calls.append(f"add_bond {name} {mode}")
        self._add(name, "bond", bond_mode=mode)
        if mac:
            self._set(name, mac=mac)

    def set_bond_option(self, name: str, option: str, value: str) -> None:
        if any(link.master == name for link in self._links.values()):
            raise KernelError(f"{option} of {name} set with ports")
        self.options.setdefault(name, {})[option] = value

    def add_bridge(self, name: str) -> None:
        self.calls.append(f"add_bridge {name}")
        self._add(name, "bridge")

    def set_master(self, name: str, master: str | None) -> None:
        self.calls.append(f"set_master {name} {master}")
        link = self.link(name)
        if master is None:
            was = self._links.get(link.master or "")
            self._set(name, master=None, **({"up": False} if was and was.kind == "bond" else {}))
            self._vlans.pop(name, None)
            return
        target = self.link(master)
        if target.kind == "bond" and link.up:
            raise KernelError(f"{name} can not be enslaved while up")
        self._set(name, master=master)
        if target.kind == "bridge":
            self._vlans[name] = {1}  # the default PVID

    def set_up(self, name: str, up: bool) -> None:
        self._set(name, up=up, carrier=up)

    def set_mtu(self, name: str, mtu: int) -> None:
        self.calls.append(f"set_mtu {name} {mtu}")
        self._set(name, mtu=mtu)

    def set_mac(self, name: str, mac: str) -> None:
        self.calls.append(f"set_mac {name} {mac}")
        self._set(name, mac=mac)

    def add_vlan(self, port: str, vid: int) -> None:
        self.calls.append(f"add_vlan {port} {vid}")
        master = self._links.get(self.link(port).master or "")
        if master is None or master.kind != "bridge":
            raise KernelError(f"{port} is not a bridge port")
        self._vlans.setdefault(port, set()).add(vid)

    def del_vlan(self, port: str, vid: int) -> None:
        self.calls.append(f"del_vlan {port} {vid}")
        self._vlans.get(port, set()).discard(vid)

    def delete(self, name: str) -> None:
        self.calls.append(f"delete {name}")
        link = self.link(name)
        if link.kind is None:
            raise KernelError(f"{name} is a NIC: it cannot be deleted")
        for port in [p for p in self._links.values() if p.master == name]:
            self.set_master(port.name, None)
        del self._links[name]

    def bridge_netfilter_off(self) -> None:
        self.netfilter_off = True

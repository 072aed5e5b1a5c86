"""VM IP discovery's node side (the RancherVM idea): the MACs the cluster bridges learned (their
forwarding database) and the node's neighbour table (ARP / NDP) map VM MACs to addresses.
``read_neighbours`` and ``learned_macs`` read the kernel through pyroute2; ``addresses_by_mac``
joins them and is plain logic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# include/uapi/linux/neighbour.h
NUD_INCOMPLETE, NUD_FAILED, NUD_NOARP, NUD_PERMANENT = 0x01, 0x20, 0x40, 0x80
NTF_SELF, NTF_MASTER = 0x02, 0x04
_USABLE_NOT = NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP


@dataclass(frozen=True)
class Neighbour:
    address: str
    mac: str
    interface: str


def read_neighbours(ipr: Any) -> list[Neighbour]:
    """Resolved neighbour entries (not incomplete, failed or NOARP) of every interface."""
    names = {int(m["index"]): str(m.get_attr("IFLA_IFNAME")) for m in ipr.get_links()}
    found = []
    for entry in ipr.get_neighbours():
        mac, address = entry.get_attr("NDA_LLADDR"), entry.get_attr("NDA_DST")
        if not isinstance(mac, str) or not isinstance(address, str):
            continue
        if int(entry["state"]) & _USABLE_NOT:
            continue
        found.append(Neighbour(address, mac.lower(), names.get(int(entry["ifindex"]), "?")))
    return found


def learned_macs(ipr: Any, bridges: set[str]) -> dict[str, str]:
    """MAC -> bridge of the addresses *bridges* learned from their ports (not their own)."""
    names = {int(m["index"]): str(m.get_attr("IFLA_IFNAME")) for m in ipr.get_links()}
    found: dict[str, str] = {}
    for entry in ipr.fdb("dump"):
        master = entry.get_attr("NDA_MASTER")
        bridge = names.get(int(master)) if master else None
        mac = entry.get_attr("NDA_LLADDR")
        own = int(entry["state"]) & NUD_PERMANENT or int(entry["flags"]) & NTF_SELF
        if bridge in bridges and isinstance(mac, str) and not own:
            found[mac.lower()] = bridge
    return found


def addresses_by_mac(neighbours: Iterable[Neighbour], macs: Iterable[str]) -> dict[str, list[str]]:
    """The addresses the neighbour table holds for each of *macs* (sorted; none: no entry)."""
    wanted = {mac.lower() for mac in macs}
    found: dict[str, set[str]] = {mac: set() for mac in wanted}
    for neighbour in neighbours:
        if neighbour.mac in wanted:
            found[neighbour.mac].add(neighbour.address)
    return {mac: sorted(addresses) for mac, addresses in sorted(found.items())}

"""The node's NIC inventory: every physical NIC (one backed by a device in sysfs) with its MAC,
permanent MAC, link, speed, and what uses it (the management network, a cluster network, another
master, or the host through an address). What an operator picks uplinks from."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from stook_core.net.cluster import MANAGEMENT, owner_network
from stook_core.net.links import SYS_NET, Link


@dataclass(frozen=True)
class NicInfo:
    name: str
    mac: str
    permanent_mac: str | None
    link_up: bool
    speed_mbps: int | None
    used_by: str | None  # "mgmt", a cluster network's name, "<master>", "host" (addresses)


def _speed(sysfs: Path, name: str) -> int | None:
    """Mbit/s as the driver reports it; None when unknown (link down, virtual NICs: -1)."""
    with contextlib.suppress(OSError, ValueError):
        speed = int((sysfs / name / "speed").read_text().strip())
        return speed if speed > 0 else None
    return None


def used_by(link: Link, by_name: dict[str, Link]) -> str | None:
    """Who owns *link*: the network of its bond (or of the bridge above the bond), else its
    master's name, else ``host`` when it carries an address."""
    if link.master:
        master = by_name.get(link.master)
        above = master.master if master else None
        for device in (link.master, above):
            owner = owner_network(device)
            if owner is not None:
                return MANAGEMENT if owner == MANAGEMENT else owner
        return link.master
    return "host" if link.addresses else None


def physical(link: Link, sysfs: Path = SYS_NET) -> bool:
    return link.kind is None and (sysfs / link.name / "device").exists()


def nic_inventory(links: Iterable[Link], sysfs: Path = SYS_NET) -> list[NicInfo]:
    """Physical NICs of *links*, sorted by name."""
    links = list(links)
    by_name = {link.name: link for link in links}
    return [
        NicInfo(
            name=link.name,
            mac=link.mac,
            permanent_mac=link.permanent_mac,
            link_up=link.carrier,
            speed_mbps=_speed(sysfs, link.name),
            used_by=used_by(link, by_name),
        )
        for link in sorted(links, key=lambda item: item.name)
        if physical(link, sysfs)
    ]

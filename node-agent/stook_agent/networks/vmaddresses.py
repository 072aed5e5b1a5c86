"""VM IP discovery (the RancherVM seed's idea; docs/networks.md): the node agent maps the MACs
seen on its bridges to IPs from the neighbour table and publishes them in its NodeNetwork
(``status.vmAddresses``), for the VMs' status.

The kernel reads are the node side's (``stook_core.net.neighbours``: the neighbour table and
the bridges' learned MACs); this module decides what to publish (``observe``, ``published``:
plain functions) and writes it (``VMAddressPublisher``, a node-side runnable). A neighbour
counts when it is on a bridge ``<cn>-br`` or on its VLAN device ``<cn>-br.<vid>`` (that gives
the VLAN); a MAC a bridge learned without an IP is listed without one. Entries not seen again
stay for ``keep`` (a silent VM's neighbour entry ages out of the kernel within minutes), and
the list is written only when it changes or its times are ``refresh`` old: at a thousand nodes
an unchanged network costs no writes.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pyroute2 import IPRoute

from stook_agent.api.meta import InvalidObjectError
from stook_agent.api.networknode import NodeNetwork, NodeNetworkStatus, VMAddress
from stook_agent.networks.cluster_state import stamp
from stook_agent.networks.resources import NODE_NETWORK
from stook_agent.runtime.client import ResourceClient, is_status
from stook_agent.runtime.errors import describe
from stook_agent.runtime.manager import Manager
from stook_agent.settings import AgentSettings
from stook_agent.upgrades.cluster import parse_time
from stook_core.net.neighbours import Neighbour, learned_macs, read_neighbours

log = logging.getLogger(__name__)
BRIDGE_DEVICE = re.compile(
    r"^(?P<network>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-br(\.(?P<vid>[0-9]{1,4}))?$"
)
MAX_ENTRIES = 4096  # the model's limit on status.vmAddresses
Reader = Callable[[], tuple[list[Neighbour], dict[str, str]]]
"""Reads the kernel: the neighbour table and the bridges' learned MACs (MAC -> bridge)."""


@dataclass(frozen=True)
class Seen:
    mac: str
    bridge: str
    vlan_id: int | None
    ips: tuple[str, ...]


def observe(neighbours: Iterable[Neighbour], learned: Mapping[str, str]) -> dict[str, Seen]:
    """The VM interfaces seen now, by MAC."""
    ips: dict[str, set[str]] = {}
    where: dict[str, tuple[str, int | None]] = {}
    for neighbour in neighbours:
        device = BRIDGE_DEVICE.match(neighbour.interface)
        if device is None:
            continue  # not on a bridge: the node's own uplinks, lo, ...
        vid = int(device["vid"]) if device["vid"] else None
        ips.setdefault(neighbour.mac, set()).add(neighbour.address)
        where.setdefault(neighbour.mac, (f"{device['network']}-br", vid))
    for mac, bridge in learned.items():
        where.setdefault(mac, (bridge, None))
    return {
        mac: Seen(mac, bridge, vid, tuple(sorted(ips.get(mac, ()))))
        for mac, (bridge, vid) in sorted(where.items())
    }


def _same(entry: VMAddress, seen: Seen) -> bool:
    return (entry.ips, entry.bridge, entry.vlan_id) == (list(seen.ips), seen.bridge, seen.vlan_id)


def published(
    seen: Mapping[str, Seen],
    previous: Iterable[VMAddress],
    now: datetime,
    keep: timedelta,
    refresh: timedelta,
) -> list[VMAddress] | None:
    """The new ``vmAddresses`` (newest first beyond the limit), or None: nothing worth a write."""
    before = {entry.mac: entry for entry in previous}
    changed = False
    result: list[VMAddress] = []
    for mac, now_seen in seen.items():
        old = before.get(mac)
        last = parse_time(old.last_seen) if old is not None else None
        if old is None or not _same(old, now_seen) or last is None or now - last >= refresh:
            changed = True
        result.append(VMAddress(mac=mac, ips=list(now_seen.ips), bridge=now_seen.bridge,
                                vlan_id=now_seen.vlan_id, last_seen=stamp(now)))  # fmt: skip
    for mac, old in before.items():
        if mac in seen:
            continue
        last = parse_time(old.last_seen)
        if last is not None and now - last < keep:
            result.append(old)
        else:
            changed = True  # gone for good
    if not changed:
        return None
    result.sort(key=lambda e: e.last_seen or "", reverse=True)
    return sorted(result[:MAX_ENTRIES], key=lambda e: e.mac)


def kernel_reader(
    open_netlink: Callable[[], Any] = IPRoute,
) -> tuple[list[Neighbour], dict[str, str]]:
    """The node's neighbour table and what its bridges (``*-br``) learned, through netlink
    (*open_netlink*: an IPRoute, or a NetNS for another namespace)."""
    with open_netlink() as ipr:
        neighbours = read_neighbours(ipr)
        names = {str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()}
        bridges = {name for name in names if BRIDGE_DEVICE.match(name) and name.endswith("-br")}
        return neighbours, learned_macs(ipr, bridges) if bridges else {}


class VMAddressPublisher:
    """A node-side runnable: every *interval* s, read the kernel and publish the VM addresses
    in this node's NodeNetwork (made by the node's network side; until it exists, nothing is
    written)."""

    name = "vm-addresses"
    needs_leader = False

    def __init__(
        self,
        client: ResourceClient,
        node: str,
        read: Reader = kernel_reader,
        interval: float = 30.0,
        keep: timedelta = timedelta(minutes=10),
        refresh: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.node = node
        self.read = read
        self.interval = interval
        self.keep = keep
        self.refresh = refresh
        self.clock = clock or (lambda: datetime.now(UTC))
        self.writes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish_once(self) -> bool:
        """One look; True if the NodeNetwork was written."""
        try:
            current = NodeNetwork.parse(self.client.get(self.node))
        except InvalidObjectError as error:
            log.warning("vm addresses: %s", error)
            return False
        except Exception as error:
            if is_status(error, 404):
                return False  # the network side has not made it yet
            raise
        neighbours, learned = self.read()
        status = current.status if current.status else NodeNetworkStatus()
        entries = published(observe(neighbours, learned), status.vm_addresses, self.clock(),
                            self.keep, self.refresh)  # fmt: skip
        if entries is None:
            return False
        self.client.patch_status(self.node, {"vmAddresses": [e.to_dict() for e in entries]})
        self.writes += 1
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.publish_once()
            except Exception as error:  # the kernel or the API server: try again next round
                log.warning("vm addresses of %s not published: %s", self.node, describe(error))
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="vm-addresses", daemon=True)
        self._thread.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(0.1, drain_timeout))

    def ready(self) -> bool:
        return True  # publishing addresses never holds the node back

    def healthy(self) -> bool:
        return self._thread is None or self._thread.is_alive() or self._stop.is_set()


def setup(manager: Manager, settings: AgentSettings) -> VMAddressPublisher:
    publisher = VMAddressPublisher(manager.client(NODE_NETWORK), settings.node)
    manager.add(publisher)
    return publisher

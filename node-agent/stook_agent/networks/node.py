"""The node side of cluster networks (docs/networks.md "Node side"): this node's NodeNetwork
reconciler. It takes the UplinkConfigs whose selector matches the node's labels, with each
network's VLAN IDs from its ClusterNetwork's status (the cluster controller's, from the
VMNetworks), and makes the kernel match them through ``stook_core.net.cluster`` (pyroute2):
bond, VLAN-filtering bridge, VLAN IDs on the bond port. A network no config selects any more is
removed, its NICs given back up. What it did goes into ``status.networks`` (NICs, VLAN IDs, a
Ready condition naming a refused NIC and who has it), the management network as it is into
``status.management``, and every physical NIC into the node's NicInventory.

Each applied spec is saved on the state partition: ``stook-networks.service`` re-applies them
at boot before RKE2 and the agent start, without waiting for the API server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stook_agent.api.meta import NODE_LABEL, Condition, ObjectMeta, set_condition
from stook_agent.api.network import ClusterNetwork, UplinkConfig
from stook_agent.api.networknode import (
    ManagementState,
    NetworkOnNode,
    Nic,
    NicInventory,
    NicInventoryStatus,
    NodeNetwork,
    NodeSpec,
)
from stook_agent.runtime.client import Object, ResourceClient, is_status
from stook_agent.runtime.controller import Reconciler, Result
from stook_core.net import cluster, saved
from stook_core.net.cluster import ClusterNetworkSpec, NicSelector, RefusedError
from stook_core.net.inventory import NicInfo, nic_inventory
from stook_core.net.links import SYS_NET, Link, Netlink, Pyroute2Netlink
from stook_core.net.management import BOND, BRIDGE

log = logging.getLogger(__name__)
READY = "Ready"
REFRESH_SECONDS = 60.0  # NIC links and speeds change without any API event


@dataclass(frozen=True)
class Desired:
    """A cluster network this node should have, and the UplinkConfig that says so."""

    config: str
    spec: ClusterNetworkSpec


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def desired_networks(
    configs: list[UplinkConfig], networks: list[ClusterNetwork], labels: dict[str, str]
) -> tuple[dict[str, Desired], dict[str, str]]:
    """The networks this node should carry (by name), and networks refused with why (two
    configs of one network select the node: admission should have stopped that)."""
    vlans = {n.metadata.name: tuple(n.status.vlan_ids) for n in networks}
    chosen: dict[str, list[UplinkConfig]] = {}
    for config in sorted(configs, key=lambda c: c.metadata.name):
        if _selects(config.spec.node_selector, labels):
            chosen.setdefault(config.spec.cluster_network, []).append(config)
    desired, conflicts = {}, {}
    for network, found in chosen.items():
        if len(found) > 1:
            names = ", ".join(c.metadata.name for c in found)
            conflicts[network] = f"UplinkConfigs {names} all select this node: none applied"
            continue
        config = found[0]
        spec = ClusterNetworkSpec(
            network=network,
            nics=tuple(NicSelector(n.name, n.mac) for n in config.spec.nics),
            mode=config.spec.bond.mode,
            miimon_ms=config.spec.bond.miimon,
            options=dict(config.spec.bond.options),
            mtu=config.spec.mtu,
            vlans=vlans.get(network, ()),
        )
        desired[network] = Desired(config.metadata.name, spec)
    return desired, conflicts


def _reason(error: RefusedError) -> str:
    texts = " ".join(r.reason for r in error.refusals)
    return "NicNotFound" if "is not a NIC of this node" in texts else "NicInUse"


def management_state(links: list[Link], gateway: str | None) -> ManagementState:
    """The management network as the kernel has it now."""
    by_name = {link.name: link for link in links}
    bond, bridge = by_name.get(BOND), by_name.get(BRIDGE)
    vlan = next((k for k in links if k.name.startswith(f"{BRIDGE}.") and k.kind == "vlan"), None)
    carrier = vlan or bridge
    ipv4 = [a for a in (carrier.addresses if carrier else ()) if ":" not in a]
    return ManagementState(
        nics=sorted(lk.name for lk in links if lk.master == BOND),
        bond_mode=bond.bond_mode if bond else None,
        vlan_id=int(vlan.name.split(".", 1)[1]) if vlan else None,
        mtu=bridge.mtu if bridge else None,
        address=ipv4[0] if ipv4 else None,
        gateway=gateway,
    )


class NodeHost:
    """The kernel as the reconciler reaches it: netlink through pyroute2, the default route,
    the folder of saved specs. Tests give a fake netlink at this boundary."""

    def __init__(self, saved_dir: Path = saved.SAVED_DIR, sysfs: Path = SYS_NET) -> None:
        self.saved_dir = saved_dir
        self.sysfs = sysfs

    @contextmanager
    def _open(self) -> Iterator[tuple[Netlink, str | None]]:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            gateway = None
            for route in ipr.get_default_routes(family=2):
                gateway = route.get_attr("RTA_GATEWAY") or gateway
            yield Pyroute2Netlink(ipr), gateway

    def open(self) -> AbstractContextManager[tuple[Netlink, str | None]]:
        return self._open()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class NodeNetworkReconciler(Reconciler):
    def __init__(
        self,
        client: ResourceClient,
        inventories: ResourceClient,
        nodes: ResourceClient,
        node: str,
        configs: Callable[[], list[Object]],
        networks: Callable[[], list[Object]],
        host: NodeHost | None = None,
        clock: Callable[[], str] = _now,
    ) -> None:
        self.client = client
        self.inventories = inventories
        self.nodes = nodes
        self.node = node
        self._configs = configs
        self._networks = networks
        self.host = host or NodeHost()
        self._clock = clock

    def reconcile(self, obj: Object) -> Result:
        current = NodeNetwork.parse(obj)
        generation = current.metadata.generation
        labels = self._labels()
        desired, conflicts = desired_networks(
            [UplinkConfig.parse(o) for o in self._configs()],
            [ClusterNetwork.parse(o) for o in self._networks()],
            labels,
        )
        now = self._clock()
        reports: list[NetworkOnNode] = []
        with self.host.open() as (netlink, gateway):
            present = cluster.networks_present(netlink.links())
            stored = {spec.network for spec in saved.load_all(self.host.saved_dir)}
            for network in sorted(desired):
                reports.append(self._apply(netlink, desired[network], current, generation, now))
            for network in sorted(conflicts):  # left as it is until the conflict is gone
                old = current.network(network)
                reports.append(self._report(
                    network, None, old, "ConfigConflict", conflicts[network], generation, now
                ))  # fmt: skip
            for network in sorted((present | stored) - set(desired) - set(conflicts)):
                released = self._remove(netlink, network)
                log.info("cluster network %s: removed, NICs %s given back", network, released)
            links = netlink.links()
            management = management_state(links, gateway)
        management.last_change = current.status.management.last_change
        status = current.status.model_copy(update={"networks": reports, "management": management})
        if status != current.status:
            body = status.to_dict()
            body.pop("vmAddresses", None)  # the VM address publisher's part
            body.get("management", {}).pop("lastChange", None)  # the change controller's
            self.client.patch_status(self.node, body)
        self._inventory(nic_inventory(links, self.host.sysfs), now)
        return Result(requeue_after=REFRESH_SECONDS)

    def _labels(self) -> dict[str, str]:
        """The Node's labels (none before the kubelet registered it: selectors see none)."""
        try:
            node = self.nodes.get(self.node)
        except Exception as error:
            if is_status(error, 404):
                return {}
            raise
        return {
            str(k): str(v) for k, v in ((node.get("metadata") or {}).get("labels") or {}).items()
        }

    def _apply(
        self, netlink: Netlink, want: Desired, current: NodeNetwork, generation: int, now: str
    ) -> NetworkOnNode:
        spec, old = want.spec, current.network(want.spec.network)
        try:
            applied = cluster.apply(netlink, spec)
        except RefusedError as refused:
            reason, message = _reason(refused), str(refused)
        except (OSError, LookupError) as error:
            reason = "ApplyFailed"
            message = f"applying bond {spec.bond} / bridge {spec.bridge} failed: {error}"
        else:
            reason = ""
        if reason:
            return self._report(spec.network, want.config, old, reason, message, generation, now)
        saved.save(spec, self.host.saved_dir)
        if applied.changes:
            log.info("cluster network %s: %s", spec.network, "; ".join(applied.changes))
        nics = ", ".join(applied.nics)
        vlans = ", ".join(map(str, applied.vlans)) or "none"
        report = self._report(
            spec.network, want.config, old, "Applied",
            f"bond {spec.bond} of {nics} in {spec.bridge}; VLANs {vlans}", generation, now,
            ready=True,
        )  # fmt: skip
        report.nics = list(applied.nics)
        report.vlan_ids = list(applied.vlans)
        report.mtu = spec.mtu or None
        return report

    def _report(
        self, network: str, config: str | None, old: NetworkOnNode | None, reason: str,
        message: str, generation: int, now: str, *, ready: bool = False,
    ) -> NetworkOnNode:  # fmt: skip
        conditions: list[Condition] = set_condition(
            old.conditions if old else [], READY, "True" if ready else "False", reason, message,
            generation, now=now,
        )  # fmt: skip
        return NetworkOnNode(
            cluster_network=network,
            uplink_config=config,
            bridge=cluster.bridge_name(network),
            bond=cluster.bond_name(network),
            ready=ready,
            conditions=conditions,
        )

    def _remove(self, netlink: Netlink, network: str) -> tuple[str, ...]:
        released = cluster.remove(netlink, network)
        saved.forget(network, self.host.saved_dir)
        return released

    def _inventory(self, nics: list[NicInfo], now: str) -> None:
        status = NicInventoryStatus(
            nics=[
                Nic(
                    name=n.name, mac=n.mac or None, permanent_mac=n.permanent_mac,
                    link="up" if n.link_up else "down", speed_mbps=n.speed_mbps,
                    used_by=n.used_by if n.used_by != "host" else None,
                )
                for n in nics
            ],
            last_updated=now,
        )  # fmt: skip
        try:
            old = NicInventory.parse(self.inventories.get(self.node)).status
        except Exception as error:
            if not is_status(error, 404):
                raise
            body = NicInventory(
                metadata=ObjectMeta(name=self.node, labels={NODE_LABEL: self.node}),
                spec=NodeSpec(node_name=self.node),
            ).body()
            self.inventories.create(body)
            old = NicInventoryStatus()
        if old.nics != status.nics:
            self.inventories.patch_status(self.node, status.to_dict())

    def absent(self, key: str) -> Result:
        if key != self.node:
            return Result()
        body = NodeNetwork(
            metadata=ObjectMeta(name=self.node, labels={NODE_LABEL: self.node}),
            spec=NodeSpec(node_name=self.node),
        ).body()
        try:
            self.client.create(body)
        except Exception as error:
            if not is_status(error, 409):
                raise
        return Result(requeue_after=0.5)

"""What the network cluster controller derives, as plain functions of typed objects (no I/O):
a VMNetwork's NAD or why it has none, a ClusterNetwork's VLAN IDs and MTU, the nodes where a
network is up, an UplinkConfig's nodes and conflicts (docs/networks.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from stook_agent.api.network import (
    MANAGEMENT,
    MTU_DEFAULT,
    ClusterNetwork,
    NicRef,
    UplinkConfig,
    VMNetwork,
    bridge_name,
)
from stook_agent.api.networknode import Nic, NicInventory, NodeNetwork
from stook_agent.networks.resources import NAD, VM_NETWORK_LABEL
from stook_agent.runtime.client import Object

CNI_VERSION = "0.3.1"
UNTAGGED_PVID = 1  # the management bridge's default PVID: untagged mgmt traffic is VLAN 1
LISTED = 10  # problems named in a message before "and N more"


@dataclass(frozen=True)
class Problem:
    """Why something cannot be done: a condition's reason and message."""

    reason: str
    message: str


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def stamp(now: datetime) -> str:
    """An RFC 3339 time as the API server writes them."""
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def key_of(vmn: VMNetwork) -> str:
    return f"{vmn.metadata.namespace}/{vmn.metadata.name}"


def listing(items: list[str]) -> str:
    shown = "; ".join(items[:LISTED])
    return shown + (f"; and {len(items) - LISTED} more" if len(items) > LISTED else "")


# -- VMNetwork -> NAD ----------------------------------------------------------------------


def vm_network_problem(vmn: VMNetwork, network: ClusterNetwork | None) -> Problem | None:
    """Why *vmn* gets no NAD (and its VLAN is trunked nowhere), or None."""
    cn, vid = vmn.spec.cluster_network, vmn.spec.vlan_id
    if network is None:
        return Problem("ClusterNetworkNotFound", f"ClusterNetwork {cn} does not exist")
    reserved = network.status.reserved_vlan_ids
    if cn == MANAGEMENT and not reserved:
        return Problem(
            "ManagementVlanUnknown",
            "no node has reported its management VLAN yet (NodeNetwork status.management): "
            "a VM network on mgmt waits, so it can never take the management VLAN",
        )
    if vid in reserved:
        return Problem(
            "ManagementVlan",
            f"VLAN {vid} is the management VLAN on {bridge_name(cn)}: a VM network on it would "
            "carry (and on removal cut) the nodes' own traffic; use another VLAN ID",
        )
    limit = network.status.mtu
    if vmn.spec.mtu is not None and limit is not None and vmn.spec.mtu > limit:
        return Problem(
            "MtuTooLarge",
            f"mtu {vmn.spec.mtu} exceeds {cn}'s uplink MTU {limit} (the smallest of its "
            "UplinkConfigs'): lower it or raise the uplinks' MTU",
        )
    return None


INVALID = ("ManagementVlan", "MtuTooLarge", "NadExists")  # the VMNetwork must change


def foreign_nad(current: Object | None, key: str) -> Problem | None:
    """A NAD of the VMNetwork's name that the controller does not keep: left alone."""
    labels = ((current or {}).get("metadata") or {}).get("labels") or {}
    if current is None or VM_NETWORK_LABEL in labels:
        return None
    return Problem(
        "NadExists",
        f"a NetworkAttachmentDefinition {key} exists that Stook does not keep: it is left "
        "alone; name the VMNetwork otherwise, or delete that NAD",
    )


def nad_mtu(vmn: VMNetwork, network: ClusterNetwork) -> int:
    return vmn.spec.mtu or network.status.mtu or MTU_DEFAULT


def nad_config(vmn: VMNetwork, network: ClusterNetwork) -> str:
    """The bridge CNI config (Harvester's shape, reference.md section 11)."""
    config = {
        "cniVersion": CNI_VERSION,
        "name": vmn.metadata.name,
        "type": "bridge",
        "bridge": bridge_name(vmn.spec.cluster_network),
        "promiscMode": True,
        "vlan": vmn.spec.vlan_id,
        "mtu": nad_mtu(vmn, network),
    }
    return json.dumps(config, separators=(",", ":"))


def nad_body(vmn: VMNetwork, network: ClusterNetwork) -> Object:
    return {
        "apiVersion": NAD.api_version,
        "kind": NAD.kind,
        "metadata": {
            "name": vmn.metadata.name,
            "namespace": vmn.metadata.namespace,
            "labels": {VM_NETWORK_LABEL: vmn.metadata.name},
            "annotations": {"stook.io/cluster-network": vmn.spec.cluster_network},
        },
        "spec": {"config": nad_config(vmn, network)},
    }


def nad_differs(current: Object | None, wanted: Object) -> bool:
    if current is None:
        return True
    meta, want = current.get("metadata") or {}, wanted["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    return (
        (current.get("spec") or {}).get("config") != wanted["spec"]["config"]
        or any(labels.get(k) != v for k, v in want["labels"].items())
        or any(annotations.get(k) != v for k, v in want["annotations"].items())
    )


def used_by(vms: Iterable[Object], namespace: str, name: str) -> list[str]:
    """KubeVirt VMs (namespace/name) whose template attaches to the NAD *namespace/name*
    (``networks[].multus.networkName``: ``name`` in its own namespace, or ``ns/name``)."""
    found = []
    for vm in vms:
        meta = vm.get("metadata") or {}
        vm_namespace = meta.get("namespace")
        template = ((vm.get("spec") or {}).get("template") or {}).get("spec") or {}
        for network in template.get("networks") or []:
            ref = str((network.get("multus") or {}).get("networkName") or "")
            ns, _, short = ref.rpartition("/")
            if short == name and (ns or vm_namespace) == namespace:
                found.append(f"{vm_namespace}/{meta.get('name')}")
                break
    return sorted(found)


# -- ClusterNetwork ------------------------------------------------------------------------


def vlan_ids(network: ClusterNetwork, vm_networks: Iterable[VMNetwork]) -> list[int]:
    """The VLAN IDs the network's nodes trunk: those of its VMNetworks that have a NAD."""
    return sorted(
        {
            vmn.spec.vlan_id
            for vmn in vm_networks
            if vmn.spec.cluster_network == network.metadata.name
            and vm_network_problem(vmn, network) is None
        }
    )


def reserved_vlan_ids(node_networks: Iterable[NodeNetwork]) -> list[int]:
    """The management VLANs the nodes report (the bridge's PVID where it is untagged)."""
    found = set()
    for nn in node_networks:
        management = nn.status.management
        if management.nics:  # the node has reported its management network
            found.add(management.vlan_id or UNTAGGED_PVID)
    return sorted(found)


def management_mtu(node_networks: Iterable[NodeNetwork]) -> int | None:
    mtus = [nn.status.management.mtu for nn in node_networks if nn.status.management.mtu]
    return min(mtus) if mtus else None


def network_mtu(network: str, configs: Iterable[UplinkConfig]) -> int | None:
    mtus = [c.spec.mtu for c in configs if c.spec.cluster_network == network]
    return min(mtus) if mtus else None


def derived(
    network: ClusterNetwork, configs: Iterable[UplinkConfig], reports: Iterable[NodeNetwork]
) -> ClusterNetwork:
    """*network* with the reserved VLANs and MTU its configs and the nodes' reports give now
    (what its status is about to say: a VMNetwork reads these, not a status that may lag)."""
    network = network.model_copy(deep=True)
    if network.metadata.name == MANAGEMENT:
        reports = list(reports)
        network.status.reserved_vlan_ids = reserved_vlan_ids(reports)
        network.status.mtu = management_mtu(reports)
    else:
        network.status.reserved_vlan_ids = []
        network.status.mtu = network_mtu(network.metadata.name, configs)
    return network


def ready_nodes(network: str, node_networks: Iterable[NodeNetwork]) -> list[str]:
    return sorted(
        nn.spec.node_name
        for nn in node_networks
        if (entry := nn.network(network)) is not None and entry.ready
    )


def node_problem(network: str, nn: NodeNetwork | None) -> str:
    """Why *network* is not up on a node, from its report."""
    if nn is None:
        return "no NodeNetwork yet (its agent has not reported)"
    entry = nn.network(network)
    if entry is None:
        return f"its NodeNetwork does not list {network} yet"
    failing = [c for c in entry.conditions if c.status != "True"]
    if failing:
        return f"{failing[0].reason}: {failing[0].message}"
    return "not ready"


# -- UplinkConfig --------------------------------------------------------------------------


def matched_nodes(config: UplinkConfig, nodes: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The nodes (name -> labels) the config's selector matches."""
    selector = config.spec.node_selector
    return sorted(name for name, labels in nodes.items() if selects(selector, labels))


def find_nic(ref: NicRef, inventory: NicInventory) -> Nic | None:
    """The inventory's NIC *ref* names: by name and/or MAC (the permanent MAC first)."""
    for nic in inventory.status.nics:
        if ref.name is not None and nic.name != ref.name:
            continue
        if ref.mac is not None and ref.mac not in (nic.permanent_mac, nic.mac):
            continue
        return nic
    return None


def nic_conflicts(
    config: UplinkConfig, nodes: Iterable[str], inventories: Mapping[str, NicInventory]
) -> list[str]:
    """The NICs the config names that another network holds on its nodes (mgmt's above all),
    as ``<node>: <nic> is <who>'s``."""
    network = config.spec.cluster_network
    found = []
    for node in nodes:
        inventory = inventories.get(node)
        if inventory is None:
            continue
        for ref in config.spec.nics:
            nic = find_nic(ref, inventory)
            if nic is not None and nic.used_by not in (None, network):
                role = "the management network" if nic.used_by == MANAGEMENT else nic.used_by
                found.append(f"{node}: {nic.name} is {role}'s NIC")
    return found


def overlaps(
    config: UplinkConfig, nodes: Iterable[str], others: Iterable[UplinkConfig],
    labels: Mapping[str, Mapping[str, str]],
) -> list[str]:  # fmt: skip
    """Other configs of the same network that select one of *nodes* too (admission refuses
    selectors that could; this catches configs made before the policy was in force)."""
    mine = set(nodes)
    found = []
    for other in others:
        if (
            other.metadata.name == config.metadata.name
            or other.spec.cluster_network != config.spec.cluster_network
        ):
            continue
        shared = sorted(n for n in mine if selects(other.spec.node_selector, labels[n]))
        if shared:
            found.append(f"UplinkConfig {other.metadata.name} also selects {', '.join(shared[:5])}")
    return found

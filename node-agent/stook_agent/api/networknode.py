"""The node's side of networks, written only by that node's agent (docs/networks.md).

NodeNetwork: one per node, named after it, labelled ``stook.io/node``: the management network
as it is now and the result of the management change handed to the node; each cluster network
on the node (NICs used, VLAN IDs trunked, conditions carrying the error); and the VM addresses
seen on its bridges (MAC -> IPs from the neighbour table).

NicInventory: one per node, named after it: every physical NIC (name, MAC, permanent MAC, link,
speed) and who uses it (mgmt, a cluster network, or nobody): the NICs an UplinkConfig may name.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stook_agent.api.meta import (
    ApiModel,
    Condition,
    Int64,
    Kind,
    PrinterColumn,
    StookObject,
    Timestamp,
    conditions_field,
    immutable,
)
from stook_agent.api.network import IFNAME_PATTERN, MAC_PATTERN, NetworkName, VlanId

IfName = Annotated[str, Field(max_length=15, pattern=IFNAME_PATTERN)]
Mac = Annotated[str, Field(max_length=17, pattern=MAC_PATTERN)]
IpAddress = Annotated[str, Field(max_length=64)]
Probe = Literal["gateway", "dns", "apiserver", "vip"]
PROBES: tuple[Probe, ...] = ("gateway", "dns", "apiserver", "vip")
ChangePhase = Literal["Applying", "Applied", "Committed", "RolledBack", "Failed"]
"""A management change on the node: Applying (checkpoint taken, new config going in), Applied
(in, probing, not committed), Committed (probes passed, persistent files written), RolledBack
(the checkpoint restored the old config: a probe failed, or nobody committed in time), Failed
(nothing was changed: the change could not be applied, e.g. a NIC not found)."""
CHANGE_DONE: tuple[ChangePhase, ...] = ("Committed", "RolledBack", "Failed")


class NodeSpec(ApiModel):
    node_name: str = Field(min_length=1, max_length=253, json_schema_extra=immutable(
        "nodeName is immutable"))  # fmt: skip
    """The node (also the object's name and its stook.io/node label)."""


def _named_after_node(kind: str) -> dict[str, str]:
    return {
        "rule": "self.metadata.name == self.spec.nodeName",
        "message": f"a {kind} is named after its node",
    }


class ChangeResult(ApiModel):
    """The node's result for one management change request."""

    change: str = Field(min_length=1, max_length=253)
    """The ManagementChange's name."""
    request: str = Field(min_length=1, max_length=128)
    """``<ManagementChange uid>/<attempt>`` as handed over (status.nodes[].request)."""
    phase: ChangePhase
    probes: list[Probe] = Field(default_factory=list, max_length=len(PROBES))
    """The probes chosen: those that passed before the change."""
    failed_probes: list[Probe] = Field(default_factory=list, max_length=len(PROBES))
    """The probes that failed after the change (why it rolled back)."""
    message: str = Field("", max_length=4096)
    time: Timestamp | None = None
    """When the phase was reached."""


class ManagementState(ApiModel):
    """The management network on the node now (mgmt-bo in mgmt-br, maybe a VLAN device)."""

    nics: list[IfName] = Field(default_factory=list, max_length=16)
    bond_mode: str | None = Field(None, max_length=32)
    vlan_id: VlanId | None = None
    """The management VLAN (none: untagged)."""
    mtu: int | None = Field(None, ge=0)
    address: str | None = Field(None, max_length=64)
    """The node's address with prefix (a.b.c.d/nn)."""
    dhcp: bool | None = None
    gateway: str | None = Field(None, max_length=64)
    last_change: ChangeResult | None = None
    """The last management change request handed to this node and where it stands."""


class NetworkOnNode(ApiModel):
    """One cluster network on the node."""

    cluster_network: NetworkName
    uplink_config: str | None = Field(None, max_length=253)
    """The UplinkConfig that selected the node (none: the network's config was removed and the
    node is giving its NICs back)."""
    bridge: IfName | None = None
    bond: IfName | None = None
    nics: list[IfName] = Field(default_factory=list, max_length=8)
    """The NICs enslaved to the bond now."""
    vlan_ids: list[VlanId] = Field(default_factory=list, max_length=4094)
    """The VLAN IDs trunked on the bond port now."""
    mtu: int | None = Field(None, ge=0)
    ready: bool = False
    """Bond, bridge and VLANs are as the config says (the Ready condition's status)."""
    conditions: list[Condition] = conditions_field()
    """Ready, and on a refusal or an error its reason and message (e.g. NicInUse naming the NIC
    and who has it, NicNotFound, ApplyFailed with the netlink error)."""


class VMAddress(ApiModel):
    """A VM interface seen on a bridge, with its IPs from the neighbour table."""

    mac: Mac
    ips: list[IpAddress] = Field(default_factory=list, max_length=16)
    bridge: IfName
    vlan_id: int | None = Field(None, ge=0, le=4094)
    """The VLAN the MAC was learnt on (none: untagged)."""
    last_seen: Timestamp | None = None


class NodeNetworkStatus(ApiModel):
    management: ManagementState = Field(default_factory=ManagementState)
    networks: list[NetworkOnNode] = Field(
        default_factory=list,
        max_length=64,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["clusterNetwork"],
        },
    )
    vm_addresses: list[VMAddress] = Field(
        default_factory=list,
        max_length=4096,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["mac"]},
    )
    """VM MACs seen on the node's bridges and their IPs (for the VM status)."""
    observed_generation: Int64 | None = Field(None, ge=0)
    conditions: list[Condition] = conditions_field()


class NodeNetwork(StookObject):
    """One node's networks as its stook-agent reports them."""

    KIND = Kind(
        kind="NodeNetwork",
        plural="nodenetworks",
        short_names=("snn",),
        description=(
            "NodeNetwork: one per node, named after it, written only by that node's stook-agent: "
            "the management\nnetwork and its last change's result, each cluster network on the "
            "node (NICs, VLAN IDs, conditions),\nthe VM addresses seen on its bridges. "
            "Cluster-scoped, labelled stook.io/node."
        ),
        printer_columns=(
            PrinterColumn("VLAN", "integer", ".status.management.vlanId", "management VLAN"),
            PrinterColumn("MTU", "integer", ".status.management.mtu", "management MTU"),
            PrinterColumn("Address", "string", ".status.management.address"),
            PrinterColumn("Change", "string", ".status.management.lastChange.phase"),
            PrinterColumn("Networks", "string", ".status.networks[*].clusterNetwork"),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        ),
        validations=(_named_after_node("NodeNetwork"),),
    )

    spec: NodeSpec
    status: NodeNetworkStatus = Field(default_factory=NodeNetworkStatus)

    def network(self, name: str) -> NetworkOnNode | None:
        return next((n for n in self.status.networks if n.cluster_network == name), None)


Link = Literal["up", "down", "unknown"]


class Nic(ApiModel):
    name: IfName
    mac: Mac | None = None
    """The current MAC (a bond port's is the bond's)."""
    permanent_mac: Mac | None = None
    """The burnt-in MAC (netlink IFLA_PERM_ADDRESS): what identifies the NIC across renames."""
    link: Link = "unknown"
    """Carrier: up (cable in, peer up), down, or unknown."""
    speed_mbps: int | None = Field(None, ge=0)
    mtu: int | None = Field(None, ge=0)
    driver: str | None = Field(None, max_length=64)
    used_by: str | None = Field(None, max_length=253)
    """Who has the NIC: ``mgmt``, a ClusterNetwork's name, or none (free)."""


class NicInventoryStatus(ApiModel):
    nics: list[Nic] = Field(
        default_factory=list,
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    last_updated: Timestamp | None = None
    conditions: list[Condition] = conditions_field()


class NicInventory(StookObject):
    """One node's physical NICs and who uses each, as its stook-agent reports them."""

    KIND = Kind(
        kind="NicInventory",
        plural="nicinventories",
        short_names=("nics",),
        description=(
            "NicInventory: one per node, named after it, written only by that node's stook-agent: "
            "every physical NIC\n(name, MAC, permanent MAC, link, speed) and who uses it. "
            "Cluster-scoped, labelled stook.io/node."
        ),
        printer_columns=(
            PrinterColumn("NICs", "string", ".status.nics[*].name"),
            PrinterColumn("Updated", "date", ".status.lastUpdated"),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        ),
        validations=(_named_after_node("NicInventory"),),
    )

    spec: NodeSpec
    status: NicInventoryStatus = Field(default_factory=NicInventoryStatus)

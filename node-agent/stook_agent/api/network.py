"""Cluster networks for VMs (docs/networks.md): ClusterNetwork, UplinkConfig and VMNetwork.

A ClusterNetwork is a bridge ``<name>-br`` on every node an UplinkConfig selects, with a bond
``<name>-bo`` of that config's NICs as its only port. VMNetworks (namespaced) are the VLANs VMs
attach to; the cluster controller keeps one Multus NetworkAttachmentDefinition per VMNetwork
(bridge CNI on ``<cn>-br`` with its VLAN ID and MTU) and the VLAN IDs of each ClusterNetwork in
its status, which the node side trunks on the bond port. Field names follow Harvester's
network-controller (reference.md sections 4 and 11).

``mgmt`` is the installer's management network (``mgmt-br``/``mgmt-bo``): only the cluster
controller creates its ClusterNetwork (to publish the management VLAN, which no VMNetwork may
take), and no UplinkConfig may name it; management changes go through ManagementChange.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from stook_agent.api.meta import (
    ApiModel,
    Condition,
    Int64,
    Kind,
    PrinterColumn,
    StookObject,
    conditions_field,
    immutable,
)
from stook_core.net.bond import BOND_OPTIONS, INT_MAX, BondMode, BondOptionError, parse_bond_option

MANAGEMENT = "mgmt"
"""The management network's name: the installer's, reserved."""
NAME_MAX = 12  # `<name>-br` and `<name>-bo` within IFNAMSIZ - 1 (15)
NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
NETWORK_LABEL_PREFIX = "network.stook.io/"
"""Node label ``network.stook.io/<cn>=true``: the network is up on the node (the cluster
controller sets it from the node's NodeNetwork), so VMs on it schedule only there."""
MTU_MIN, MTU_MAX, MTU_DEFAULT = 576, 9000, 1500
IFNAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,15}$"
MAC_PATTERN = r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$"

NetworkName = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)]
VlanId = Annotated[int, Field(ge=1, le=4094)]
Mtu = Annotated[int, Field(ge=MTU_MIN, le=MTU_MAX)]
NodeSelector = Annotated[
    dict[str, Annotated[str, Field(max_length=63)]],
    Field(max_length=16),
]


def bridge_name(network: str) -> str:
    return f"{network}-br"


def bond_name(network: str) -> str:
    return f"{network}-bo"


def network_label(network: str) -> str:
    return f"{NETWORK_LABEL_PREFIX}{network}"


class NicRef(ApiModel):
    """A NIC by name, by MAC, or both (then both must match). A MAC is matched against the
    NIC's permanent (burnt-in) MAC first, so a renamed NIC is still found."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "has(self.name) || has(self.mac)", "message": "a NIC needs a name or a mac"},
    ]})  # fmt: skip

    name: str | None = Field(None, pattern=IFNAME_PATTERN, max_length=15)
    mac: str | None = Field(None, pattern=MAC_PATTERN, max_length=17)

    @field_validator("mac")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    def __str__(self) -> str:
        return " ".join(part for part in (self.name, self.mac and f"({self.mac})") if part)


def _cel_list(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in dict.fromkeys(values)) + "]"


def _bond_option_rules() -> Any:
    """CEL rules from stook_core.net.bond's table, so the API server refuses what the kernel
    or networkd would: unknown names, enum values, integer ranges (one rule per option, its
    message the table's own)."""
    known = list(BOND_OPTIONS)
    rules = [
        {
            "rule": f"self.all(k, k in {_cel_list(known)})",
            "message": f"known bonding options: {', '.join(known)}",
        }
    ]
    for option in BOND_OPTIONS.values():
        value = f"self['{option.name}']"
        if option.kind == "enum":
            settable = [c for c in option.choices if c not in option.unsettable]
            numbers = [str(option.choices.index(c)) for c in settable]
            check = f"{value} in {_cel_list(settable + numbers)}"
        elif option.kind == "int":
            check = (
                f"{value}.matches('^[0-9]{{1,10}}$') && int({value}) >= {option.low} && "
                f"int({value}) <= {option.high}"
            )
        else:
            continue  # addresses and names: the node side parses them (stook_core.net.bond)
        rules.append({"rule": f"!('{option.name}' in self) || ({check})",
                      "message": option.expects()})  # fmt: skip
    return rules


def _mode_rules() -> Any:
    return [
        {
            "rule": f"!has(self.options) || !('{o.name}' in self.options) || "
            f"self.mode in {_cel_list(list(o.modes))}",
            "message": f"bonding option {o.name} is only taken in bond mode {' or '.join(o.modes)}",
        }
        for o in BOND_OPTIONS.values()
        if o.modes
    ]


class UplinkBond(ApiModel):
    """The bond ``<cn>-bo`` of the config's NICs."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": _mode_rules()})

    mode: BondMode = "active-backup"
    miimon: int = Field(100, ge=0, le=60000)
    """MII link monitoring interval in ms (0: off)."""
    options: dict[str, str] = Field(
        default_factory=dict,
        max_length=len(BOND_OPTIONS),
        json_schema_extra={"x-kubernetes-validations": _bond_option_rules()},
    )
    """Kernel bonding options by name (Documentation/networking/bonding.rst), as in the install
    config: e.g. ``lacp_rate: fast``, ``xmit_hash_policy: layer3+4``."""

    @field_validator("options", mode="before")
    @classmethod
    def _canonical(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        canonical = {}
        for name, item in value.items():
            try:
                canonical[str(name)] = parse_bond_option(str(name), item)
            except BondOptionError as error:
                raise ValueError(f"options.{name}: {item!r} {error}") from None
        return canonical


assert INT_MAX < 10**10  # the CEL integer rule reads at most 10 digits


class UplinkConfigSpec(ApiModel):
    cluster_network: NetworkName = Field(json_schema_extra=immutable(
        "clusterNetwork is immutable"))  # fmt: skip
    """The ClusterNetwork these nodes' NICs carry (not mgmt)."""
    node_selector: NodeSelector = Field(default_factory=dict)
    """The nodes this config applies to, by label (none: every node). Two configs of one
    network must differ in the value of a label both select on, so no node matches both."""
    nics: list[NicRef] = Field(min_length=1, max_length=8)
    """The NICs of the bond. A NIC of the management network or of another cluster network is
    refused on that node (a condition), never taken."""
    bond: UplinkBond = Field(default_factory=UplinkBond)
    mtu: Mtu = MTU_DEFAULT
    """MTU of the NICs, the bond and the bridge (576-9000)."""


class UplinkConfigStatus(ApiModel):
    matched_nodes: list[str] = Field(default_factory=list, max_length=5000)
    """The nodes the selector matches now."""
    ready_nodes: int = Field(0, ge=0)
    """Matched nodes whose NodeNetwork says the network is up."""
    observed_generation: Int64 | None = Field(None, ge=0)
    conditions: list[Condition] = conditions_field()


class UplinkConfig(StookObject):
    """The uplink of one ClusterNetwork on a group of nodes: NICs, bond, MTU."""

    KIND = Kind(
        kind="UplinkConfig",
        plural="uplinkconfigs",
        short_names=("upc",),
        description=(
            "UplinkConfig: the uplink of one ClusterNetwork on the nodes its selector matches "
            "(NICs by name or MAC,\nbond mode and options, MTU). Cluster-scoped; each node's "
            "agent reports what it did in its NodeNetwork."
        ),
        printer_columns=(
            PrinterColumn("Network", "string", ".spec.clusterNetwork"),
            PrinterColumn("Mode", "string", ".spec.bond.mode"),
            PrinterColumn("MTU", "integer", ".spec.mtu"),
            PrinterColumn("Ready", "integer", ".status.readyNodes", "nodes with it up"),
            PrinterColumn("Accepted", "string", '.status.conditions[?(@.type=="Accepted")].status'),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        ),
        validations=(
            {
                "rule": f"self.spec.clusterNetwork != '{MANAGEMENT}'",
                "message": "the management network (mgmt) is the installer's: change it with a "
                "ManagementChange, not an UplinkConfig",
            },
        ),
    )

    spec: UplinkConfigSpec
    status: UplinkConfigStatus = Field(default_factory=UplinkConfigStatus)


class ClusterNetworkSpec(ApiModel):
    description: str | None = Field(None, max_length=1024)


class ClusterNetworkStatus(ApiModel):
    vlan_ids: list[VlanId] = Field(
        default_factory=list, max_length=4094, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """The VLAN IDs of the network's VMNetworks, sorted: what the nodes trunk on
    ``<cn>-bo`` (kept by the cluster controller)."""
    reserved_vlan_ids: list[VlanId] = Field(
        default_factory=list, max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """mgmt only: the management VLAN(s) the nodes report (1, the bridge's default, when
    untagged); no VMNetwork may take them."""
    mtu: int | None = Field(None, ge=0)
    """The smallest MTU of the network's UplinkConfigs (a VMNetwork's default MTU)."""
    uplink_configs: list[str] = Field(default_factory=list, max_length=1000)
    """The UplinkConfigs of this network (deleting it is refused while any exist)."""
    vm_networks: list[str] = Field(default_factory=list, max_length=4094)
    """The VMNetworks on it, as namespace/name (deleting it is refused while any exist)."""
    ready_nodes: list[str] = Field(default_factory=list, max_length=5000)
    """Nodes where the network is up (labelled network.stook.io/<name>=true)."""
    observed_generation: Int64 | None = Field(None, ge=0)
    conditions: list[Condition] = conditions_field()


class ClusterNetwork(StookObject):
    """A network for VMs: bridge <name>-br with bond <name>-bo on the nodes that have it."""

    KIND = Kind(
        kind="ClusterNetwork",
        plural="clusternetworks",
        short_names=("cn",),
        description=(
            "ClusterNetwork: a network for VMs, bridge <name>-br with bond <name>-bo as its port "
            "on the nodes an\nUplinkConfig selects; VMNetworks are its VLANs. Cluster-scoped, "
            "at most 12 characters; mgmt is the installer's."
        ),
        printer_columns=(
            PrinterColumn("VLANs", "string", ".status.vlanIds", "VLAN IDs trunked"),
            PrinterColumn("MTU", "integer", ".status.mtu"),
            PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
            PrinterColumn("Nodes", "string", ".status.readyNodes", priority=1),
        ),
        validations=(
            {
                "rule": f"self.metadata.name.size() <= {NAME_MAX} && "
                f"self.metadata.name.matches('{NAME_PATTERN}')",
                "message": f"a ClusterNetwork's name is at most {NAME_MAX} lowercase letters, "
                "digits and '-' (so <name>-br and <name>-bo fit Linux's 15 characters)",
            },
        ),
    )

    spec: ClusterNetworkSpec = Field(default_factory=ClusterNetworkSpec)
    status: ClusterNetworkStatus = Field(default_factory=ClusterNetworkStatus)


class VMNetworkSpec(ApiModel):
    cluster_network: NetworkName = Field(json_schema_extra=immutable(
        "clusterNetwork is immutable"))  # fmt: skip
    """The ClusterNetwork (its bridge <cn>-br) the VLAN is on; mgmt is allowed, but not on the
    management VLAN."""
    vlan_id: VlanId = Field(json_schema_extra=immutable("vlanId is immutable"))
    """The VLAN ID (1-4094), trunked on the network's bond on every node that has it."""
    mtu: Mtu | None = None
    """The VMs' interfaces' MTU (default: the network's, the smallest of its UplinkConfigs')."""


VMNetworkPhase = Literal["Pending", "Ready", "Invalid"]


class VMNetworkStatus(ApiModel):
    phase: VMNetworkPhase = "Pending"
    network_attachment_definition: str | None = Field(None, max_length=253)
    """The NetworkAttachmentDefinition kept for it (same namespace and name)."""
    mtu: int | None = Field(None, ge=0)
    """The MTU its NetworkAttachmentDefinition carries."""
    used_by: list[str] = Field(default_factory=list, max_length=10000)
    """The VMs (namespace/name) attached to it; deleting it is refused while any are."""
    observed_generation: Int64 | None = Field(None, ge=0)
    conditions: list[Condition] = conditions_field()


class VMNetwork(StookObject):
    """A VLAN of a ClusterNetwork that VMs attach to, as a Multus NetworkAttachmentDefinition."""

    KIND = Kind(
        kind="VMNetwork",
        plural="vmnetworks",
        short_names=("vmnet",),
        scope="Namespaced",
        description=(
            "VMNetwork: a VLAN of a ClusterNetwork for VMs. The cluster controller keeps a Multus "
            "NetworkAttachmentDefinition\nof the same name (bridge CNI on <cn>-br, the VLAN ID, "
            "the MTU) and trunks the VLAN on the network's nodes."
        ),
        printer_columns=(
            PrinterColumn("Network", "string", ".spec.clusterNetwork"),
            PrinterColumn("VLAN", "integer", ".spec.vlanId"),
            PrinterColumn("MTU", "integer", ".status.mtu"),
            PrinterColumn("Phase", "string", ".status.phase"),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        ),
    )

    spec: VMNetworkSpec
    status: VMNetworkStatus = Field(default_factory=VMNetworkStatus)

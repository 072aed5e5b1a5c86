"""ManagementChange: a change of the management network after install (docs/networks.md).

Cluster-scoped, written by an operator; its spec cannot change once made (a new change is a new
object). The cluster controller (leader only) rolls it out at most ``maxConcurrent`` nodes at a
time (default one), handing each node the request in ``status.nodes[]`` (phase Applying). The
node's agent applies it under a checkpoint that rolls back by itself unless committed, and
reports in its NodeNetwork (``status.management.lastChange``); the controller copies that here
and stops at the first node that rolled back or failed. One ManagementChange runs at a time.
"""

from __future__ import annotations

from typing import Literal

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
from stook_agent.api.network import Mtu, NicRef, NodeSelector
from stook_agent.api.networknode import Probe
from stook_core.net.bond import BondMode

Phase = Literal["Pending", "Running", "Succeeded", "Failed"]
NodePhase = Literal["Pending", "Applying", "Applied", "Committed", "RolledBack", "Failed"]
NODE_DONE: tuple[NodePhase, ...] = ("Committed", "RolledBack", "Failed")
CIDR_PATTERN = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"
IPV4_PATTERN = r"^([0-9]{1,3}\.){3}[0-9]{1,3}$"


class StaticAddresses(ApiModel):
    """Static addressing: each node's address, the gateway and DNS servers."""

    addresses: dict[str, str] = Field(
        min_length=1,
        max_length=1000,
        json_schema_extra={
            "additionalProperties": {"type": "string", "pattern": CIDR_PATTERN},
        },
    )
    """The node's address with prefix (a.b.c.d/nn), by node name: every node the change
    selects needs one."""
    gateway: str | None = Field(None, pattern=IPV4_PATTERN, max_length=15)
    dns: list[str] = Field(
        default_factory=list,
        max_length=3,
        json_schema_extra={"items": {"type": "string", "pattern": IPV4_PATTERN}},
    )


class ManagementChangeSpec(ApiModel):
    node_selector: NodeSelector = Field(default_factory=dict)
    """The nodes to change (none: every node)."""
    vlan_id: int | None = Field(None, ge=0, le=4094)
    """The management VLAN (0: untagged; unset: unchanged)."""
    bond_mode: BondMode | None = None
    """The mgmt-bo bond mode (unset: unchanged)."""
    mtu: Mtu | None = None
    """The management MTU (576-9000; unset: unchanged)."""
    static: StaticAddresses | None = None
    """Switch to (or change) static addressing (unset: unchanged)."""
    add_nics: list[NicRef] = Field(default_factory=list, max_length=8)
    """NICs to add to mgmt-bo (free NICs only: one of a cluster network is refused)."""
    max_concurrent: int = Field(1, ge=1, le=100)
    """Nodes changed at once (default one)."""
    rollback_after_seconds: int = Field(120, ge=30, le=1800)
    """The checkpoint: without a commit within this time the node restores its previous
    network by itself, even if its agent died."""
    skip_probes: list[Probe] = Field(
        default_factory=list, max_length=4, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Probes not to require even if they pass before the change (the others that pass before
    must pass after)."""


class NodeChange(ApiModel):
    name: str = Field(min_length=1, max_length=253)
    phase: NodePhase = "Pending"
    request: str | None = Field(None, max_length=128)
    """``<uid>/<attempt>``, set when handed over: the node acts on this request once."""
    probes: list[Probe] = Field(default_factory=list, max_length=4)
    failed_probes: list[Probe] = Field(default_factory=list, max_length=4)
    message: str = Field("", max_length=4096)
    started: Timestamp | None = None
    finished: Timestamp | None = None


class ManagementChangeStatus(ApiModel):
    phase: Phase = "Pending"
    message: str = Field("", max_length=4096)
    current: str | None = Field(None, max_length=1024)
    """The node(s) being changed now."""
    progress: str | None = Field(None, max_length=32)
    """Nodes committed of nodes in the change, e.g. 1/3."""
    nodes: list[NodeChange] = Field(
        default_factory=list,
        max_length=1000,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Every node of the change, in the order they are taken."""
    observed_generation: Int64 | None = Field(None, ge=0)
    conditions: list[Condition] = conditions_field()


class ManagementChange(StookObject):
    """A change of the management network, node by node, each under an automatic rollback."""

    KIND = Kind(
        kind="ManagementChange",
        plural="managementchanges",
        short_names=("mgc",),
        description=(
            "ManagementChange: the management network's VLAN, bond mode, MTU, static address or "
            "an added NIC,\nrolled out one node at a time (by default), each applied under a "
            "checkpoint that rolls back by itself\nunless its probes pass; stops at the first "
            "node that rolls back. Cluster-scoped; spec is immutable."
        ),
        printer_columns=(
            PrinterColumn("Phase", "string", ".status.phase"),
            PrinterColumn("Node", "string", ".status.current", "being changed now"),
            PrinterColumn("Progress", "string", ".status.progress", "nodes committed"),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
            PrinterColumn("Message", "string", ".status.message", priority=1),
        ),
        validations=(
            {
                "rule": "has(self.spec.vlanId) || has(self.spec.bondMode) || has(self.spec.mtu) "
                "|| has(self.spec.static) || (has(self.spec.addNics) && size(self.spec.addNics) "
                "> 0)",
                "message": "a ManagementChange changes something: vlanId, bondMode, mtu, static "
                "or addNics",
            },
        ),
    )

    spec: ManagementChangeSpec = Field(json_schema_extra=immutable(
        "a ManagementChange's spec is immutable: make a new one"))  # fmt: skip
    status: ManagementChangeStatus = Field(default_factory=ManagementChangeStatus)

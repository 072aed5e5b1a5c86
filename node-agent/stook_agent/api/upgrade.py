"""Upgrade: an OS upgrade of the cluster, one node at a time (docs/upgrades.md).

Cluster-scoped, written by an operator; the upgrade controller (leader only) keeps all of its
state in ``status``, so a restarted controller continues where the last one was. One Upgrade
runs at a time: a second waits with ``Validated=False`` naming the one that runs.
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
)
from stook_agent.api.osversion import OSImage
from stook_core.boot.slots import DEFAULT_ATTEMPTS, MAX_ATTEMPTS

NodeName = Annotated[str, Field(min_length=1, max_length=253)]
Phase = Literal["Pending", "Invalid", "Running", "Paused", "Succeeded", "Failed", "Aborted"]
NodeStep = Literal[
    "Pending", "Draining", "Upgrading", "Downloading", "Writing", "Rebooting", "Verifying",
    "Succeeded", "Failed", "Skipped",
]  # fmt: skip
ACTIVE_STEPS = ("Draining", "Upgrading", "Downloading", "Writing", "Rebooting", "Verifying")
HISTORY = 64  # entries kept in status.history


class DrainOptions(ApiModel):
    timeout_seconds: int = Field(600, ge=1, le=86400)
    """How long evictions may be refused (by a PodDisruptionBudget) before the upgrade pauses
    (or, with force, deletes the pods)."""
    force: bool = False
    """After the timeout, delete the pods that could not be evicted instead of pausing."""


class StepTimeouts(ApiModel):
    download_seconds: int = Field(3600, ge=1, le=86400)
    """From the hand-over to the node until its image is downloaded and verified."""
    reboot_seconds: int = Field(900, ge=1, le=86400)
    """From the reboot until the node is back, booted the new slot and marked it good."""


class UpgradeSpec(ApiModel):
    version: str = Field(min_length=1, max_length=253)
    """The OSVersion (its name) to upgrade to."""
    node_selector: dict[str, str] = Field(default_factory=dict)
    """Only nodes with these labels (none: every node)."""
    order: list[NodeName] = Field(default_factory=list, max_length=1000)
    """Nodes to take first, in this order; the others follow by name (control-plane nodes
    before workers)."""
    max_unavailable: int = Field(1, ge=1, le=100)
    """Nodes upgraded at once (never more than one control-plane node)."""
    drain: DrainOptions = Field(default_factory=DrainOptions)
    timeouts: StepTimeouts = Field(default_factory=StepTimeouts)
    paused: bool = False
    """Take no further step (a node in the middle of one finishes it)."""
    skip_nodes: list[NodeName] = Field(
        default_factory=list, max_length=1000, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Nodes to leave out (also a failed node, to go on with the others)."""
    abort: bool = False
    """Stop: no further node is touched, every node this upgrade cordoned is uncordoned."""
    uncordon_on_failure: bool = False
    """Uncordon a failed node (default: it stays cordoned for inspection)."""
    retry: int = Field(0, ge=0)
    """Raise it to retry the failed node(s) of a Failed upgrade."""
    boot_attempts: int = Field(DEFAULT_ATTEMPTS, ge=1, le=MAX_ATTEMPTS)
    """Boots of the new slot GRUB tries (each ending in a failed boot check) before it falls
    back to the old one."""


class NodeProgress(ApiModel):
    name: NodeName
    step: NodeStep = "Pending"
    attempt: int = Field(1, ge=1)
    """Raised by every retry of this node (spec.retry), so its agent sees a new request."""
    control_plane: bool = False
    from_version: str | None = Field(None, max_length=128)
    cordoned: bool = False
    """This upgrade cordoned the node (it uncordons only what it cordoned)."""
    bytes_downloaded: Int64 = Field(0, ge=0)
    bytes_written: Int64 = Field(0, ge=0)
    total_bytes: Int64 = Field(0, ge=0)
    message: str = Field("", max_length=4096)
    failed_check: str | None = Field(None, max_length=253)
    """The required boot check that failed on the new slot (from the node's report)."""
    times: dict[str, Timestamp] = Field(default_factory=dict)
    """When each step began, by step."""


class HistoryEntry(ApiModel):
    time: Timestamp
    node: str | None = Field(None, max_length=253)
    step: str = Field(max_length=64)
    message: str = Field("", max_length=1024)


class UpgradeStatus(ApiModel):
    phase: Phase = "Pending"
    message: str = Field("", max_length=4096)
    image: OSImage | None = None
    """The OSVersion's image as validated: what every node of this upgrade installs."""
    retried: int = Field(0, ge=0)
    """The spec.retry last acted on."""
    current: str | None = Field(None, max_length=1024)
    """The node(s) being upgraded now."""
    progress: str | None = Field(None, max_length=32)
    """Nodes done of nodes in the upgrade, e.g. 1/3."""
    nodes: list[NodeProgress] = Field(
        default_factory=list,
        max_length=1000,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Every node of the upgrade, in the order they are taken."""
    history: list[HistoryEntry] = Field(default_factory=list, max_length=HISTORY)
    observed_generation: Int64 | None = Field(None, ge=0)
    conditions: list[Condition] = conditions_field()


class Upgrade(StookObject):
    """An OS upgrade of the cluster's nodes to one OSVersion, one node at a time."""

    KIND = Kind(
        kind="Upgrade",
        plural="upgrades",
        short_names=("sup",),
        description=(
            "Upgrade: the cluster's nodes to one OSVersion, one node at a time (cordon, drain, "
            "the node's\nagent writes its passive slot and reboots, a health gate, uncordon). "
            "Cluster-scoped; all state in status."
        ),
        printer_columns=(
            PrinterColumn("Version", "string", ".spec.version"),
            PrinterColumn("Phase", "string", ".status.phase"),
            PrinterColumn("Node", "string", ".status.current", "being upgraded now"),
            PrinterColumn("Progress", "string", ".status.progress", "nodes done"),
            PrinterColumn(
                "Validated", "string", '.status.conditions[?(@.type=="Validated")].status'
            ),
            PrinterColumn(
                "Failed", "string", '.status.nodes[?(@.step=="Failed")].name', "the failed node"
            ),
            PrinterColumn(
                "Failed-Check",
                "string",
                '.status.nodes[?(@.step=="Failed")].failedCheck',
                "the required boot check that failed on the failed node's new slot",
            ),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
            PrinterColumn("Message", "string", ".status.message", priority=1),
        ),
    )

    spec: UpgradeSpec
    status: UpgradeStatus = Field(default_factory=UpgradeStatus)

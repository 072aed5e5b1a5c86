"""NodeStatus: one per node, named after it and kept current by its agent (agent version,
booted A/B OS slot and OS version, heartbeat)."""

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


class NodeStatusSpec(ApiModel):
    node_name: str = Field(min_length=1, max_length=253, json_schema_extra=immutable(
        "nodeName is immutable"))  # fmt: skip
    """The node (also the object's name and its stook.io/node label)."""


class NodeStatusStatus(ApiModel):
    agent_version: str | None = Field(None, max_length=128)
    booted_slot: Literal["A", "B", "unknown"] | None = None
    """The OS slot the node booted; unknown until the A/B OS reports it."""
    os_version: str | None = Field(None, max_length=128)
    last_heartbeat: Timestamp | None = None
    observed_generation: Int64 | None = Field(None, ge=0)
    conditions: list[Condition] = conditions_field()


class NodeStatus(StookObject):
    """The state of one node as its stook-agent reports it."""

    KIND = Kind(
        kind="NodeStatus",
        plural="nodestatuses",
        short_names=("sns",),
        description=(
            "NodeStatus: one per node, named after the node and kept current by its stook-agent "
            "(agent\nversion, booted A/B OS slot and version, heartbeat). Cluster-scoped, "
            "labelled stook.io/node."
        ),
        printer_columns=(
            PrinterColumn("Agent", "string", ".status.agentVersion"),
            PrinterColumn("Slot", "string", ".status.bootedSlot"),
            PrinterColumn("OS", "string", ".status.osVersion"),
            PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="AgentReady")].status'),
            PrinterColumn("Heartbeat", "date", ".status.lastHeartbeat"),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        ),
        validations=(
            {
                "rule": "self.metadata.name == self.spec.nodeName",
                "message": "a NodeStatus is named after its node",
            },
        ),
    )

    spec: NodeStatusSpec
    status: NodeStatusStatus = Field(default_factory=NodeStatusStatus)

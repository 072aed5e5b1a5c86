"""NodeUpgrade: one node's part of OS upgrades, written only by that node's agent.

Named after the node, labelled ``stook.io/node`` (so the per-node admission policy ties it to
its node, as NodeStatus). ``spec`` is the request the agent accepted (copied from the Upgrade
the cluster controller handed to it), ``status`` what it did: download, write, reboot, and
what booted afterwards. Outside an upgrade the status still says what the node can take (its
booted slot and version, whether it is on trial or fell back, free space for a download), so
the controller's pre-checks read one object per node.
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
from stook_agent.api.osversion import OSImage
from stook_core.boot.slots import MAX_ATTEMPTS

NodePhase = Literal[
    "Idle", "Downloading", "Writing", "Rebooting", "Verifying", "Succeeded", "Failed"
]
SlotName = Literal["A", "B", "unknown"]
Health = Literal["passed", "failed", "unknown"]


class NodeUpgradeSpec(ApiModel):
    node_name: str = Field(min_length=1, max_length=253, json_schema_extra=immutable(
        "nodeName is immutable"))  # fmt: skip
    """The node (also the object's name and its stook.io/node label)."""
    upgrade: str | None = Field(None, max_length=253)
    """The Upgrade this request came from."""
    request: str | None = Field(None, max_length=128)
    """``<Upgrade uid>/<attempt>``: a new Upgrade of the same name, or a retry, is a new
    request."""
    image: OSImage | None = None
    """The image to install (from the Upgrade's OSVersion)."""
    boot_attempts: int | None = Field(None, ge=1, le=MAX_ATTEMPTS)
    """Boots of the new slot before GRUB falls back (the Upgrade's spec.bootAttempts)."""


class BootReport(ApiModel):
    """What the node booted, from the OS's boot status (stook-os status)."""

    slot: SlotName = "unknown"
    version: str = Field("unknown", max_length=128)
    good: bool = False
    """The booted slot is marked good (its health checks passed)."""
    trial: bool = False
    """The booted slot is on trial (not yet marked good)."""
    fell_back: bool = False
    """GRUB passed over the slot meant to boot (its attempts were spent)."""
    health: Health = "unknown"
    """The boot checks of this boot: passed (and marked good), failed, or not finished."""
    failed_check: str | None = Field(None, max_length=253)
    """The required check that failed this boot (e.g. stook-health-network.service)."""
    message: str = Field("", max_length=1024)


class NodeUpgradeStatus(ApiModel):
    phase: NodePhase = "Idle"
    message: str = Field("", max_length=4096)
    bytes_downloaded: Int64 = Field(0, ge=0)
    bytes_written: Int64 = Field(0, ge=0)
    total_bytes: Int64 = Field(0, ge=0)
    target_slot: SlotName | None = None
    """The slot the image is written into (the passive one when the upgrade began)."""
    reboot_boot_id: str | None = Field(None, max_length=64)
    """The boot (kernel boot_id) in which the reboot was requested: another boot id means the
    node has rebooted since."""
    booted: BootReport = Field(default_factory=BootReport)
    free_bytes: Int64 | None = Field(None, ge=0)
    """Free bytes where the agent keeps downloads."""
    download_folder: str | None = Field(None, max_length=4096)
    """Where the agent keeps downloads (stook-agent --upgrade-downloads)."""
    failed_check: str | None = Field(None, max_length=253)
    """The required boot check that failed on the new slot (this boot's, or the failed boot's
    from its journal after a fallback)."""
    times: dict[str, Timestamp] = Field(default_factory=dict)
    """When each phase began, by phase."""
    request: str | None = Field(None, max_length=128)
    """The request (spec.request) this status is about."""
    conditions: list[Condition] = conditions_field()


class NodeUpgrade(StookObject):
    """One node's part of OS upgrades, as its stook-agent reports it."""

    KIND = Kind(
        kind="NodeUpgrade",
        plural="nodeupgrades",
        short_names=("snu",),
        description=(
            "NodeUpgrade: one per node, named after it, written only by that node's stook-agent:\n"
            "the upgrade request it accepted, its download/write/reboot progress and what booted "
            "afterwards. Cluster-scoped, labelled stook.io/node."
        ),
        printer_columns=(
            PrinterColumn("Phase", "string", ".status.phase"),
            PrinterColumn("Version", "string", ".spec.image.version", "target version"),
            PrinterColumn("Downloaded", "integer", ".status.bytesDownloaded", "bytes"),
            PrinterColumn("Written", "integer", ".status.bytesWritten", "bytes"),
            PrinterColumn("Booted", "string", ".status.booted.version"),
            PrinterColumn("Slot", "string", ".status.booted.slot"),
            PrinterColumn(
                "Failed-Check",
                "string",
                ".status.failedCheck",
                "the required boot check that failed on the new slot",
            ),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
            PrinterColumn("Message", "string", ".status.message", priority=1),
        ),
        validations=(
            {
                "rule": "self.metadata.name == self.spec.nodeName",
                "message": "a NodeUpgrade is named after its node",
            },
        ),
    )

    spec: NodeUpgradeSpec
    status: NodeUpgradeStatus = Field(default_factory=NodeUpgradeStatus)

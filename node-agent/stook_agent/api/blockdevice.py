"""BlockDevice: one disk of one node, published by that node's agent (docs/disks.md).

Cluster-scoped, named ``<node>-<16 hex of the disk's identity>``, labelled ``stook.io/node``.
``spec`` is the operator's wish (what the disk is for), ``status`` what the agent sees and did.
Field names follow Harvester's node-disk-manager (reference.md section 2).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from stook_agent.api.meta import (
    ApiModel,
    Condition,
    GiB,
    Int64,
    Kind,
    PrinterColumn,
    StookObject,
    conditions_field,
    immutable,
)
from stook_core.diskid import Source

Provision = Literal["none", "longhorn", "passthrough"]
State = Literal["Active", "Inactive", "Unknown"]
Phase = Literal["Provisioned", "Unprovisioned", "Provisioning", "Unprovisioning", "Failed"]
DriveType = Literal["HDD", "SSD", "NVMe", "Unknown"]
IdentitySource = Source  # what an object's name is derived from (stook_core.diskid)


class LonghornOptions(ApiModel):
    engine_version: Literal["LonghornV1", "LonghornV2"] = "LonghornV1"
    """The Longhorn data engine of the disk."""


class PassthroughOptions(ApiModel):
    """Options of the local block PersistentVolume."""

    storage_class_name: str | None = Field(None, max_length=253)
    """The PersistentVolume's storage class (default stook-passthrough)."""


class ProvisionerOptions(ApiModel):
    """Options of the provisioners."""

    longhorn: LonghornOptions = Field(default_factory=LonghornOptions)
    passthrough: PassthroughOptions = Field(default_factory=PassthroughOptions)


class BlockDeviceSpec(ApiModel):
    node_name: str = Field(min_length=1, max_length=253, json_schema_extra=immutable(
        "nodeName is immutable"))  # fmt: skip
    """The node the device is attached to (equals the stook.io/node label)."""
    dev_path: str | None = Field(None, pattern="^/dev/", max_length=4096)
    """Device path at discovery; informative (identity is the disk's WWN, serial, ...)."""
    provision: Provision = "none"
    """What the disk is for: none (left alone), longhorn (formatted, mounted and added to the
    node's Longhorn disks) or passthrough (a local block PersistentVolume for VMs). Going back
    to none releases it safely."""
    force_format: bool = False
    """Erase a disk that holds data (a filesystem, partitions) for Longhorn."""
    provisioner: ProvisionerOptions = Field(default_factory=ProvisionerOptions)
    tags: list[Annotated[str, Field(max_length=63)]] = Field(
        default_factory=list, max_length=32, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Longhorn disk tags (followed while provisioned)."""


class PartitionStatus(ApiModel):
    number: int | None = None
    dev_path: str | None = None
    size: Int64 | None = None
    part_label: str | None = None
    fs_type: str | None = None
    fs_label: str | None = None
    mount_point: str | None = None


class FileSystemStatus(ApiModel):
    type: str | None = None
    label: str | None = None
    mount_point: str | None = None
    is_read_only: bool | None = None
    corrupted: bool | None = None


class DeviceDetails(ApiModel):
    device_type: Literal["disk", "part"] | None = None
    drive_type: DriveType | None = None
    storage_controller: str | None = None
    bus_path: str | None = None
    model: str | None = None
    vendor: str | None = None
    serial_number: str | None = None
    wwn: str | None = None
    uuid: str | None = None
    pt_uuid: str | None = Field(None, alias="ptUUID")
    part_uuid: str | None = Field(None, alias="partUUID")
    label: str | None = None
    is_removable: bool | None = None
    rotational: bool | None = None
    bus: str | None = None
    identity_source: IdentitySource | None = None
    """What the object's name was derived from."""


class DeviceStatus(ApiModel):
    capacity: Int64 | None = Field(None, ge=0)
    """Bytes."""
    capacity_gi_b: float | None = Field(None, alias="capacityGiB", ge=0)
    """The capacity in GiB (two decimals), for people."""
    dev_path: str | None = None
    by_id_paths: list[str] | None = None
    partitions: list[PartitionStatus] | None = None
    file_system: FileSystemStatus | None = None
    details: DeviceDetails | None = None


class BlockDeviceStatus(ApiModel):
    state: State | None = None
    provision_phase: Phase | None = None
    provisioned_as: Provision | None = None
    """What the disk is provisioned as now (spec.provision is the wish)."""
    device_status: DeviceStatus | None = None
    conditions: list[Condition] = conditions_field()


def gib(size: int) -> float:
    return round(size / GiB, 2)


class BlockDevice(StookObject):
    """One disk or partition of one node, discovered by that node's stook-agent."""

    KIND = Kind(
        kind="BlockDevice",
        plural="blockdevices",
        short_names=("bd",),
        description=(
            "BlockDevice: one disk of one node, discovered by that node's stook-agent.\n"
            "Cluster-scoped, named <node>-<hash of the disk's identity> (docs/disks.md), "
            "labelled stook.io/node=<node>\n"
            "so each agent watches only its own node's devices. spec is intent (provision it?), "
            "status is what the agent sees."
        ),
        printer_columns=(
            PrinterColumn("Node", "string", ".spec.nodeName"),
            PrinterColumn("Path", "string", ".status.deviceStatus.devPath"),
            PrinterColumn("GiB", "number", ".status.deviceStatus.capacityGiB", "capacity in GiB"),
            PrinterColumn("Provision", "string", ".spec.provision", "what the disk should be"),
            PrinterColumn("Provisioned", "string", ".status.provisionedAs", "what it is now"),
            PrinterColumn("Phase", "string", ".status.provisionPhase"),
            PrinterColumn("State", "string", ".status.state"),
            PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
            PrinterColumn("Model", "string", ".status.deviceStatus.details.model", priority=1),
            PrinterColumn(
                "Serial", "string", ".status.deviceStatus.details.serialNumber", priority=1
            ),
        ),
    )

    spec: BlockDeviceSpec
    status: BlockDeviceStatus = Field(default_factory=BlockDeviceStatus)

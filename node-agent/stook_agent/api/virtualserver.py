"""VirtualServer: a virtual machine as one high-level, namespaced resource (docs/vms.md).

The shape follows the seeds' VirtualServer over KubeVirt (reference.md section 12): resources,
a root disk filled from a source, additional disks and filesystems, network ports published by
a Service, a run strategy with start/stop/restart actions. A cluster controller
(stook_agent.vms) renders it into a KubeVirt VirtualMachine (with a CDI DataVolume template for
the root disk) and a Service, and maps their state back into ``status``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from stook_agent.api.meta import (
    ApiModel,
    Condition,
    Kind,
    PrinterColumn,
    StookObject,
    conditions_field,
)

RunStrategy = Literal["Always", "RerunOnFailure", "Manual", "Halted"]
Action = Literal["start", "stop", "restart"]
VolumeMode = Literal["Filesystem", "Block"]
AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
DnsPolicy = Literal["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
DiskBus = Literal["virtio", "sata", "scsi", "usb"]
PrintableStatus = Literal[
    "Stopped", "Provisioning", "Starting", "Running", "Paused", "Stopping", "Terminating",
    "CrashLoopBackOff", "Migrating", "Unknown", "ErrorUnschedulable", "ErrImagePull",
    "ImagePullBackOff", "ErrorPvcNotFound", "DataVolumeError", "WaitingForVolumeBinding",
    "WaitingForReceiver",
]  # fmt: skip
"""KubeVirt's VirtualMachine printableStatus values (kubevirt.io/api core/v1)."""

Quantity = Annotated[
    str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$", max_length=32)
]
Name = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
"""A DNS-1123 label: the name of a disk, filesystem, network or Kubernetes object."""
Port = Annotated[int, Field(ge=1, le=65535)]
MacAddress = Annotated[str, Field(pattern=r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")]


def exactly_one(*fields: str) -> dict[str, Any]:
    """A CEL rule (and its message) that exactly one of *fields* is set."""
    rule = " + ".join(f"(has(self.{f}) ? 1 : 0)" for f in fields) + " == 1"
    message = f"exactly one of {', '.join(fields)} must be set"
    return {"x-kubernetes-validations": [{"rule": rule, "message": message}]}


def named_list(max_length: int) -> Any:
    """The Field of a list of named items, merged by name (x-kubernetes-list-type map)."""
    return Field(
        default_factory=list,
        max_length=max_length,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )


def _one_of(model: ApiModel, fields: tuple[str, ...], where: str) -> None:
    given = [f for f in fields if getattr(model, f) is not None]
    if len(given) != 1:
        names = ", ".join(type(model).model_fields[f].alias or f for f in fields)
        raise ValueError(f"{where}: exactly one of {names} must be set (got {len(given)})")


class Cpu(ApiModel):
    cores: int = Field(1, ge=1, le=512)
    """Virtual CPU cores."""
    model: str | None = Field(None, max_length=128)
    """The CPU model the guest sees (KubeVirt's domain.cpu.model: host-passthrough,
    host-model or a named model); unset: the cluster's default."""


class Gpu(ApiModel):
    type: str = Field(min_length=1, max_length=253)
    """The device plugin's resource name, e.g. nvidia.com/GA102GL_A10."""
    count: int = Field(1, ge=1, le=16)


class Resources(ApiModel):
    cpu: Cpu = Field(default_factory=Cpu)
    memory: Quantity
    """Guest memory, e.g. 4Gi."""
    gpu: Gpu | None = None


class HttpSource(ApiModel):
    url: str = Field(pattern=r"^https?://", max_length=4096)
    """A disk image (raw, qcow2, optionally xz/gz compressed) CDI downloads."""


class RegistrySource(ApiModel):
    url: str = Field(pattern=r"^docker://", max_length=4096)
    """A container disk image, e.g. docker://quay.io/containerdisks/ubuntu:24.04."""


class PvcSource(ApiModel):
    name: Name
    namespace: Name | None = None
    """Default: the VirtualServer's namespace."""


class RootSource(ApiModel, json_schema_extra=exactly_one("http", "registry", "pvc")):
    """Where the root disk's content comes from: exactly one of http, registry, pvc."""

    http: HttpSource | None = None
    registry: RegistrySource | None = None
    pvc: PvcSource | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        _one_of(self, ("http", "registry", "pvc"), "storage.root.source")
        return self


class RootDisk(ApiModel):
    """The boot disk: a PersistentVolumeClaim filled from *source* (a CDI DataVolume)."""

    source: RootSource
    size: Quantity
    """The claim's size; at least the image's virtual size."""
    volume_mode: VolumeMode = "Filesystem"
    access_modes: list[AccessMode] = Field(
        default_factory=lambda: list[AccessMode](["ReadWriteOnce"]), min_length=1, max_length=4
    )
    storage_class_name: str | None = Field(None, max_length=253)
    """Default: the cluster's default storage class."""
    ephemeral: bool = False
    """Discard the guest's writes to the root disk when the VM stops (a copy-on-write layer
    over the imported disk; a registry source then runs as a containerDisk, with no claim)."""


class PvcVolume(ApiModel):
    claim_name: Name
    read_only: bool = False


class ConfigMapVolume(ApiModel):
    name: Name


class ServiceAccountVolume(ApiModel):
    service_account_name: Name


class BlockDeviceVolume(ApiModel):
    name: str = Field(min_length=1, max_length=253)
    """A BlockDevice provisioned as passthrough (its local block PersistentVolume)."""


VOLUME_SOURCES = ("persistent_volume_claim", "config_map", "service_account")
VOLUME_RULE = exactly_one("persistentVolumeClaim", "configMap", "serviceAccount")
DISK_RULE = exactly_one("persistentVolumeClaim", "configMap", "serviceAccount", "blockDevice")


class Disk(ApiModel, json_schema_extra=DISK_RULE):
    """An additional disk: exactly one of persistentVolumeClaim, configMap, serviceAccount,
    blockDevice."""

    name: Name
    persistent_volume_claim: PvcVolume | None = None
    config_map: ConfigMapVolume | None = None
    """Shown to the guest as a small ISO disk holding the ConfigMap's keys as files."""
    service_account: ServiceAccountVolume | None = None
    """The account's token, namespace and CA as a small ISO disk."""
    block_device: BlockDeviceVolume | None = None
    """A whole disk of a node, passed through as a raw block device (the VM runs there)."""
    serial: str | None = Field(None, pattern=r"^[A-Za-z0-9_.+-]+$", max_length=20)
    """The disk's serial number in the guest (/dev/disk/by-id/virtio-<serial>)."""
    bus: DiskBus = "virtio"

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        _one_of(self, (*VOLUME_SOURCES, "block_device"), f"storage.additionalDisks[{self.name}]")
        return self


class Filesystem(ApiModel, json_schema_extra=VOLUME_RULE):
    """A directory shared with the guest through virtiofs (mount it by *name*): exactly one of
    persistentVolumeClaim, configMap, serviceAccount."""

    name: Name
    persistent_volume_claim: PvcVolume | None = None
    config_map: ConfigMapVolume | None = None
    service_account: ServiceAccountVolume | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        _one_of(self, VOLUME_SOURCES, f"storage.filesystems[{self.name}]")
        return self


def _names_unique(items: Sequence[Disk | Filesystem | VmNetwork], where: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise ValueError(f"{where}: the name {item.name!r} is used twice")
        seen.add(item.name)


class Storage(ApiModel):
    root: RootDisk
    additional_disks: list[Disk] = named_list(32)
    filesystems: list[Filesystem] = named_list(16)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names: list[Disk | Filesystem] = [*self.additional_disks, *self.filesystems]
        _names_unique(names, "storage (additionalDisks and filesystems)")
        if any(item.name in RESERVED_VOLUMES for item in names):
            raise ValueError(f"storage: the names {', '.join(RESERVED_VOLUMES)} are reserved")
        return self


RESERVED_VOLUMES = ("root", "cloudinit")


class DnsOption(ApiModel):
    name: str = Field(min_length=1, max_length=253)
    value: str | None = Field(None, max_length=253)


class DnsConfig(ApiModel):
    """Merged into the DNS configuration of the VM's pod (as a pod's dnsConfig)."""

    nameservers: list[str] = Field(default_factory=list, max_length=3)
    searches: list[str] = Field(default_factory=list, max_length=32)
    options: list[DnsOption] = Field(default_factory=list, max_length=16)


class VmNetwork(ApiModel):
    """A Stook VM network (a Multus NetworkAttachmentDefinition): the guest gets a bridged
    interface on it."""

    name: Name
    """The interface's name in the VM."""
    network_attachment_definition: str = Field(
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=253,
    )
    """The NAD: <name> (the VirtualServer's namespace) or <namespace>/<name>."""
    mac_address: MacAddress | None = None
    """Stable MAC address of this interface (how the node agents find its IP)."""


class Network(ApiModel):
    tcp: list[Port] = Field(
        default_factory=list, max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """TCP ports of the guest published by a Service named after the VirtualServer."""
    udp: list[Port] = Field(
        default_factory=list, max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """UDP ports published the same way."""
    mac_address: MacAddress | None = None
    """Stable MAC address of the pod-network interface."""
    dns_policy: DnsPolicy | None = None
    dns_config: DnsConfig | None = None
    networks: list[VmNetwork] = named_list(8)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        _names_unique(self.networks, "network.networks")
        if any(n.name == POD_NETWORK for n in self.networks):
            raise ValueError(f"network.networks: the name {POD_NETWORK!r} is reserved")
        return self


POD_NETWORK = "default"


class SecretRef(ApiModel):
    name: Name


class CloudInit(ApiModel):
    """cloud-init NoCloud data. Passwords belong in a Secret (secretRef), not in the spec."""

    user_data: str | None = Field(None, max_length=32768)
    network_data: str | None = Field(None, max_length=32768)
    secret_ref: SecretRef | None = None
    """A Secret whose userdata (and networkdata) keys hold the data instead."""

    @model_validator(mode="after")
    def _not_both(self) -> Self:
        if self.secret_ref is not None and self.user_data is not None:
            raise ValueError("cloudInit: userData and secretRef exclude each other")
        return self


class VirtualServerSpec(ApiModel):
    resources: Resources
    storage: Storage
    network: Network = Field(default_factory=Network)
    cloud_init: CloudInit | None = None
    run_strategy: RunStrategy = "Always"
    """Always (kept running), RerunOnFailure (restarted after a failure only), Manual
    (start/stop by action only), Halted (kept stopped). The start and stop actions change it
    as KubeVirt's run-strategy table says (docs/vms.md)."""


class VmRef(ApiModel):
    name: str
    """The KubeVirt VirtualMachine's name: <name>-<hash of name and UID>."""


class LastAction(ApiModel):
    action: str = Field(max_length=64)
    """The requested action (start, stop, restart; anything else is refused)."""
    accepted: bool
    message: str
    time: str


class VirtualServerStatus(ApiModel):
    observed_generation: int | None = None
    vm: VmRef | None = None
    printable_status: PrintableStatus | None = None
    """KubeVirt's summary of the VM (Stopped, Provisioning, Running, ...)."""
    node_name: str | None = None
    """The node the VM runs on."""
    ips: list[str] = Field(default_factory=list)
    """The VM's addresses (pod network first, then the VM networks)."""
    import_progress: str | None = None
    """The root disk import's progress, e.g. 45.2%."""
    last_action: LastAction | None = None
    """The last start/stop/restart request and whether it was carried out."""
    conditions: list[Condition] = conditions_field()
    """DataImported, Ready, Failure, Paused."""


ACTION_ANNOTATION = "vms.stook.io/action"
"""Annotation requesting an action (start, stop, restart); the controller removes it."""


class VirtualServer(StookObject):
    """A virtual machine: resources, disks, networks and run strategy in one resource."""

    KIND = Kind(
        kind="VirtualServer",
        plural="virtualservers",
        scope="Namespaced",
        short_names=("vs",),
        description=(
            "VirtualServer: a virtual machine as one resource (docs/vms.md), namespaced.\n"
            "The stook cluster controllers render it into a KubeVirt VirtualMachine, a CDI\n"
            "DataVolume for the root disk and a Service, and map their state into status."
        ),
        printer_columns=(
            PrinterColumn("Status", "string", ".status.printableStatus"),
            PrinterColumn("Node", "string", ".status.nodeName"),
            PrinterColumn("IP", "string", ".status.ips[0]"),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
            PrinterColumn("RunStrategy", "string", ".spec.runStrategy", priority=1),
            PrinterColumn("VM", "string", ".status.vm.name", priority=1),
        ),
    )

    spec: VirtualServerSpec
    status: VirtualServerStatus = Field(default_factory=VirtualServerStatus)

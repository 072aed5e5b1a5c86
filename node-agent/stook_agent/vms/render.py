"""VirtualServer -> KubeVirt VirtualMachine, CDI DataVolume, Service and passthrough claims.

Pure: the same VirtualServer (and the same passthrough volumes) always renders the same
objects, so the controller can apply them on every reconcile. Names match across the VM:
each disk or filesystem has a volume of the same name, each interface a network of the same
name (KubeVirt refuses a VM where they do not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stook_agent.api.virtualserver import (
    POD_NETWORK,
    Disk,
    Filesystem,
    RootDisk,
    VirtualServer,
)
from stook_agent.vms.kubevirt import (
    DATA_VOLUME,
    SERVER_LABEL,
    VIRTUAL_MACHINE,
    VIRTUAL_SERVER,
    VM_LABEL,
    disk_claim,
    root_claim,
    vm_name,
)

Object = dict[str, Any]
ROOT = "root"
CLOUD_INIT = "cloudinit"


class RenderError(ValueError):
    """A VirtualServer that cannot become a VM; the message names the field and the rule."""


@dataclass(frozen=True)
class PassthroughVolume:
    """A BlockDevice's local block PersistentVolume, as the controller found it."""

    pv_name: str
    storage_class: str
    capacity: str


@dataclass
class Rendered:
    vm: Object
    service: Object | None = None
    data_volume: Object | None = None
    """A standalone DataVolume (only for an ephemeral root imported over http)."""
    claims: list[Object] = field(default_factory=list)


def _meta(vs: VirtualServer, name: str, **extra: Any) -> Object:
    assert vs.metadata.namespace and vs.metadata.uid, "a VirtualServer from the API server"
    owner = {
        "apiVersion": VIRTUAL_SERVER.api_version,
        "kind": VIRTUAL_SERVER.kind,
        "name": vs.metadata.name,
        "uid": vs.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "name": name,
        "namespace": vs.metadata.namespace,
        "labels": {SERVER_LABEL: vs.metadata.name},
        "ownerReferences": [owner],
        **extra,
    }


def _storage(root: RootDisk) -> Object:
    storage: Object = {
        "resources": {"requests": {"storage": root.size}},
        "volumeMode": root.volume_mode,
        "accessModes": list(root.access_modes),
    }
    if root.storage_class_name:
        storage["storageClassName"] = root.storage_class_name
    return storage


def _dv_source(vs: VirtualServer) -> Object:
    source = vs.spec.storage.root.source
    if source.http is not None:
        return {"http": {"url": source.http.url}}
    if source.registry is not None:
        return {"registry": {"url": source.registry.url}}
    assert source.pvc is not None
    return {"pvc": {"name": source.pvc.name, "namespace": source.pvc.namespace
                    or vs.metadata.namespace}}  # fmt: skip


def _root(vs: VirtualServer, vm: str) -> tuple[Object, Object | None, Object | None]:
    """(the root volume, a dataVolumeTemplates entry, a standalone DataVolume)."""
    root = vs.spec.storage.root
    source = root.source
    claim = root_claim(vm)
    template = {"metadata": {"name": claim, "labels": {SERVER_LABEL: vs.metadata.name}},
                "spec": {"source": _dv_source(vs), "storage": _storage(root)}}  # fmt: skip
    if not root.ephemeral:
        return {"name": ROOT, "dataVolume": {"name": claim}}, template, None
    if source.registry is not None:
        image = source.registry.url.removeprefix("docker://")
        return {"name": ROOT, "containerDisk": {"image": image}}, None, None
    if source.pvc is not None:
        if source.pvc.namespace not in (None, vs.metadata.namespace):
            raise RenderError(
                "spec.storage.root: an ephemeral root disk must use a claim of the "
                f"VirtualServer's namespace {vs.metadata.namespace!r}, not "
                f"{source.pvc.namespace}/{source.pvc.name} (KubeVirt layers the guest's writes "
                "over a claim it can mount); set ephemeral: false to copy it instead"
            )
        volume = {"name": ROOT, "ephemeral": {"persistentVolumeClaim": {
            "claimName": source.pvc.name, "readOnly": True}}}  # fmt: skip
        return volume, None, None
    # http + ephemeral: import once into a claim the VM does not own, layer writes over it.
    data_volume = {
        "apiVersion": DATA_VOLUME.api_version,
        "kind": DATA_VOLUME.kind,
        "metadata": _meta(vs, claim),
        "spec": template["spec"],
    }
    volume = {"name": ROOT, "ephemeral": {"persistentVolumeClaim": {
        "claimName": claim, "readOnly": True}}}  # fmt: skip
    return volume, None, data_volume


def _source_volume(item: Disk | Filesystem) -> Object:
    if item.persistent_volume_claim is not None:
        pvc = item.persistent_volume_claim
        return {"name": item.name, "persistentVolumeClaim": {
            "claimName": pvc.claim_name, "readOnly": pvc.read_only}}  # fmt: skip
    if item.config_map is not None:
        return {"name": item.name, "configMap": {"name": item.config_map.name}}
    assert item.service_account is not None
    account = item.service_account.service_account_name
    return {"name": item.name, "serviceAccount": {"serviceAccountName": account}}


def _passthrough_claim(
    vs: VirtualServer, vm: str, disk: Disk, volumes: dict[str, PassthroughVolume]
) -> Object:
    assert disk.block_device is not None
    found = volumes.get(disk.name)
    if found is None:
        raise RenderError(
            f"spec.storage.additionalDisks[{disk.name}].blockDevice: BlockDevice "
            f"{disk.block_device.name!r} has no passthrough PersistentVolume (set its "
            "spec.provision to passthrough and wait for its status.provisionedAs)"
        )
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(vs, disk_claim(vm, disk.name)),
        "spec": {
            "volumeName": found.pv_name,
            "storageClassName": found.storage_class,
            "volumeMode": "Block",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": found.capacity}},
        },
    }


def _disk(disk: Disk, claim: str | None) -> tuple[Object, Object]:
    device: Object = {"name": disk.name, "disk": {"bus": disk.bus}}
    if disk.serial:
        device["serial"] = disk.serial
    if claim is not None:
        volume = {"name": disk.name, "persistentVolumeClaim": {"claimName": claim}}
    else:
        volume = _source_volume(disk)
    return device, volume


def _cloud_init(vs: VirtualServer) -> Object | None:
    init = vs.spec.cloud_init
    if init is None:
        return None
    data: Object = {}
    if init.secret_ref is not None:
        data["secretRef"] = {"name": init.secret_ref.name}
    if init.user_data is not None:
        data["userData"] = init.user_data
    if init.network_data is not None:
        data["networkData"] = init.network_data
    return {"name": CLOUD_INIT, "cloudInitNoCloud": data}


def _networks(vs: VirtualServer) -> tuple[list[Object], list[Object]]:
    network = vs.spec.network
    pod: Object = {"name": POD_NETWORK, "masquerade": {}}
    if network.mac_address:
        pod["macAddress"] = network.mac_address.lower()
    interfaces, networks = [pod], [{"name": POD_NETWORK, "pod": {}}]
    for extra in network.networks:
        interface: Object = {"name": extra.name, "bridge": {}}
        if extra.mac_address:
            interface["macAddress"] = extra.mac_address.lower()
        interfaces.append(interface)
        nad = extra.network_attachment_definition
        networks.append({"name": extra.name, "multus": {"networkName": nad}})
    return interfaces, networks


def _domain(vs: VirtualServer, disks: list[Object], interfaces: list[Object]) -> Object:
    resources = vs.spec.resources
    cpu: Object = {"cores": resources.cpu.cores}
    if resources.cpu.model:
        cpu["model"] = resources.cpu.model
    devices: Object = {"disks": disks, "interfaces": interfaces}
    if vs.spec.storage.filesystems:
        devices["filesystems"] = [
            {"name": fs.name, "virtiofs": {}} for fs in vs.spec.storage.filesystems
        ]
    if resources.gpu is not None:
        devices["gpus"] = [
            {"name": f"gpu{i}", "deviceName": resources.gpu.type}
            for i in range(resources.gpu.count)
        ]
    return {
        "cpu": cpu,
        "memory": {"guest": resources.memory},
        "resources": {"requests": {"memory": resources.memory}},
        "devices": devices,
    }


def service(vs: VirtualServer, vm: str) -> Object | None:
    """A ClusterIP Service named after the VirtualServer for its tcp/udp ports, or None."""
    network = vs.spec.network
    ports = [(p, "TCP") for p in network.tcp] + [(p, "UDP") for p in network.udp]
    if not ports:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(vs, vs.metadata.name),
        "spec": {
            "type": "ClusterIP",
            "selector": {VM_LABEL: vm},
            "ports": [
                {"name": f"{proto.lower()}-{port}", "protocol": proto, "port": port,
                 "targetPort": port}
                for port, proto in ports
            ],
        },
    }  # fmt: skip


def render(vs: VirtualServer, passthrough: dict[str, PassthroughVolume]) -> Rendered:
    """Every object of *vs*; *passthrough* maps blockDevice disk names to their volumes."""
    assert vs.metadata.uid is not None
    vm = vm_name(vs.metadata.name, vs.metadata.uid)
    root_volume, template, data_volume = _root(vs, vm)
    disks: list[Object] = [{"name": ROOT, "disk": {"bus": "virtio"}, "bootOrder": 1}]
    volumes: list[Object] = [root_volume]
    claims: list[Object] = []
    for disk in vs.spec.storage.additional_disks:
        claim = None
        if disk.block_device is not None:
            claims.append(_passthrough_claim(vs, vm, disk, passthrough))
            claim = claims[-1]["metadata"]["name"]
        device, volume = _disk(disk, claim)
        disks.append(device)
        volumes.append(volume)
    volumes += [_source_volume(fs) for fs in vs.spec.storage.filesystems]
    cloud_init = _cloud_init(vs)
    if cloud_init is not None:
        disks.append({"name": CLOUD_INIT, "disk": {"bus": "virtio"}})
        volumes.append(cloud_init)
    interfaces, networks = _networks(vs)
    pod_spec: Object = {
        "domain": _domain(vs, disks, interfaces),
        "networks": networks,
        "volumes": volumes,
    }
    if vs.spec.network.dns_policy:
        pod_spec["dnsPolicy"] = vs.spec.network.dns_policy
    if vs.spec.network.dns_config is not None:
        pod_spec["dnsConfig"] = vs.spec.network.dns_config.to_dict()
    labels = {SERVER_LABEL: vs.metadata.name, VM_LABEL: vm}
    spec: Object = {
        "runStrategy": vs.spec.run_strategy,
        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
    }
    if template is not None:
        spec["dataVolumeTemplates"] = [template]
    body = {
        "apiVersion": VIRTUAL_MACHINE.api_version,
        "kind": VIRTUAL_MACHINE.kind,
        "metadata": _meta(vs, vm),
        "spec": spec,
    }
    return Rendered(body, service(vs, vm), data_volume, claims)

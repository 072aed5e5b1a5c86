"""The KubeVirt and CDI resources the VM controller writes and reads, and the labels it puts
on them (reference.md section 12)."""

from __future__ import annotations

import hashlib

from stook_agent.api.virtualserver import VirtualServer
from stook_agent.resources import Resource, resource_of

VIRTUAL_SERVER = resource_of(VirtualServer.KIND)
VIRTUAL_MACHINE = Resource("kubevirt.io", "v1", "virtualmachines", "VirtualMachine", True)
VIRTUAL_MACHINE_INSTANCE = Resource(
    "kubevirt.io", "v1", "virtualmachineinstances", "VirtualMachineInstance", True
)
DATA_VOLUME = Resource("cdi.kubevirt.io", "v1beta1", "datavolumes", "DataVolume", True)
SERVICE = Resource("", "v1", "services", "Service", namespaced=True)
PERSISTENT_VOLUME_CLAIM = Resource(
    "", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", namespaced=True
)

SERVER_LABEL = "vms.stook.io/virtualserver"
"""On every object rendered for a VirtualServer: its name (the objects share its namespace)."""
VM_LABEL = "vms.stook.io/vm"
"""On the VM's pod (through the VMI template): the Service selects it."""
FIELD_MANAGER = "stook-vms"

_NAME_ROOM = 63 - 9  # a DNS-1123 label, minus "-" and 8 hex digits


def vm_name(name: str, uid: str) -> str:
    """The VirtualMachine's name: the VirtualServer's name and a hash of its name and UID, so
    a VirtualServer deleted and made again never adopts the old one's VM (or its disks)."""
    digest = hashlib.sha256(f"{name}/{uid}".encode()).hexdigest()[:8]
    return f"{name[:_NAME_ROOM].rstrip('-')}-{digest}"


def root_claim(vm: str) -> str:
    """The root disk's DataVolume and PersistentVolumeClaim (CDI names the claim after it)."""
    return f"{vm}-root"


def disk_claim(vm: str, disk: str) -> str:
    """The claim binding a passthrough BlockDevice's PersistentVolume for one disk."""
    return f"{vm}-{disk}"[:253]

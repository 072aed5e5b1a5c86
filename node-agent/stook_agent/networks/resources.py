"""The network kinds as the runtime's clients address them, and Multus's NAD."""

from __future__ import annotations

from stook_agent.api import (
    ClusterNetwork,
    ManagementChange,
    NicInventory,
    NodeNetwork,
    UplinkConfig,
    VMNetwork,
)
from stook_agent.resources import resource_of
from stook_agent.runtime.resource import Resource

CLUSTER_NETWORK = resource_of(ClusterNetwork.KIND)
UPLINK_CONFIG = resource_of(UplinkConfig.KIND)
VM_NETWORK = resource_of(VMNetwork.KIND)
NODE_NETWORK = resource_of(NodeNetwork.KIND)
NIC_INVENTORY = resource_of(NicInventory.KIND)
MANAGEMENT_CHANGE = resource_of(ManagementChange.KIND)
NAD = Resource(
    "k8s.cni.cncf.io", "v1", "network-attachment-definitions", "NetworkAttachmentDefinition", True
)
VM_NETWORK_LABEL = "stook.io/vm-network"
"""On a NAD the cluster controller keeps: the VMNetwork's name (same namespace)."""
VM_NETWORK_FINALIZER = "stook.io/vm-network"
"""On a VMNetwork: its NAD is deleted before it goes."""
FIELD_MANAGER = "stook-networks"

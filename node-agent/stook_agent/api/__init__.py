"""The Stook API (group ``stook.io``) as typed models, one module per kind (as kubebuilder's
``api/v1alpha1/*_types.go``): each declares its spec and status types and, next to them, its
kind, plural, scope, printer columns and subresources. The chart's CRDs are generated from
them (``stook_agent.api.crd``). Reconcilers parse the informer's dicts into these models at
their boundary and write status from them.
"""

from __future__ import annotations

from stook_agent.api.blockdevice import BlockDevice
from stook_agent.api.meta import GROUP, NODE_LABEL, VERSION, StookObject
from stook_agent.api.network import ClusterNetwork, UplinkConfig, VMNetwork
from stook_agent.api.networkchange import ManagementChange
from stook_agent.api.networknode import NicInventory, NodeNetwork
from stook_agent.api.nodestatus import NodeStatus
from stook_agent.api.nodeupgrade import NodeUpgrade
from stook_agent.api.osversion import OSVersion
from stook_agent.api.upgrade import Upgrade
from stook_agent.api.virtualserver import VirtualServer

KINDS: tuple[type[StookObject], ...] = (
    BlockDevice,
    NodeStatus,
    OSVersion,
    Upgrade,
    NodeUpgrade,
    VirtualServer,
    ClusterNetwork,
    UplinkConfig,
    VMNetwork,
    NodeNetwork,
    NicInventory,
    ManagementChange,
)

__all__ = [
    "GROUP",
    "KINDS",
    "NODE_LABEL",
    "VERSION",
    "BlockDevice",
    "ClusterNetwork",
    "ManagementChange",
    "NicInventory",
    "NodeNetwork",
    "NodeStatus",
    "NodeUpgrade",
    "OSVersion",
    "StookObject",
    "Upgrade",
    "UplinkConfig",
    "VMNetwork",
    "VirtualServer",
]

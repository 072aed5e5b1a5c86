"""The Stook API's resources as the runtime's clients address them (group, version, plural).

The kinds themselves (types, names, printer columns) are declared in ``stook_agent.api``; the
runtime takes these ``Resource`` descriptions as parameters and imports nothing of Stook's.
"""

from __future__ import annotations

from stook_agent.api import GROUP, NODE_LABEL, VERSION, BlockDevice, NodeStatus
from stook_agent.api.meta import Kind
from stook_agent.runtime.resource import Resource

__all__ = ["BLOCK_DEVICE", "GROUP", "NODE_LABEL", "NODE_STATUS", "VERSION", "Resource"]


def resource_of(kind: Kind) -> Resource:
    return Resource(kind.group, kind.version, kind.plural, kind.kind, kind.namespaced)


BLOCK_DEVICE = resource_of(BlockDevice.KIND)
NODE_STATUS = resource_of(NodeStatus.KIND)


def node_selector(node: str) -> str:
    """The label selector under which a node's agent sees only its own objects."""
    return f"{NODE_LABEL}={node}"

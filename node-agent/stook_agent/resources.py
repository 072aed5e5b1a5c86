"""The Stook API's resources as the runtime's clients address them (group, version, plural).

The kinds themselves (types, names, printer columns) are declared in ``stook_agent.api``.
"""

from __future__ import annotations

from dataclasses import dataclass

from stook_agent.api import GROUP, NODE_LABEL, VERSION, BlockDevice, NodeStatus
from stook_agent.api.meta import Kind

__all__ = ["BLOCK_DEVICE", "GROUP", "NODE_LABEL", "NODE_STATUS", "VERSION", "Resource"]


@dataclass(frozen=True)
class Resource:
    """One API resource as the custom-objects API addresses it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @classmethod
    def of(cls, kind: Kind) -> Resource:
        return cls(kind.group, kind.version, kind.plural, kind.kind, kind.namespaced)


BLOCK_DEVICE = Resource.of(BlockDevice.KIND)
NODE_STATUS = Resource.of(NodeStatus.KIND)


def node_selector(node: str) -> str:
    """The label selector under which a node's agent sees only its own objects."""
    return f"{NODE_LABEL}={node}"

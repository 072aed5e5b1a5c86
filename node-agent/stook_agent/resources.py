"""The Stook API: group, versions, kinds and the node label every per-node object carries."""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "stook.io"
VERSION = "v1alpha1"
NODE_LABEL = "stook.io/node"


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


BLOCK_DEVICE = Resource(GROUP, VERSION, "blockdevices", "BlockDevice")
NODE_STATUS = Resource(GROUP, VERSION, "nodestatuses", "NodeStatus")


def node_selector(node: str) -> str:
    """The label selector under which a node's agent sees only its own objects."""
    return f"{NODE_LABEL}={node}"

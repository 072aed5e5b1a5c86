"""The upgrade kinds as the runtime's clients address them."""

from __future__ import annotations

from stook_agent.api import NodeUpgrade, OSVersion, Upgrade
from stook_agent.api.meta import Kind
from stook_agent.resources import Resource


def _resource(kind: Kind) -> Resource:
    return Resource(kind.group, kind.version, kind.plural, kind.kind)


OS_VERSION = _resource(OSVersion.KIND)
UPGRADE = _resource(Upgrade.KIND)
NODE_UPGRADE = _resource(NodeUpgrade.KIND)
FINALIZER = "stook.io/upgrade"  # on an Upgrade: uncordon what it cordoned before it goes

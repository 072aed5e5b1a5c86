"""The upgrade kinds as the runtime's clients address them."""

from __future__ import annotations

from stook_agent.api import NodeUpgrade, OSVersion, Upgrade
from stook_agent.resources import resource_of

OS_VERSION = resource_of(OSVersion.KIND)
UPGRADE = resource_of(Upgrade.KIND)
NODE_UPGRADE = resource_of(NodeUpgrade.KIND)
FINALIZER = "stook.io/upgrade"  # on an Upgrade: uncordon what it cordoned before it goes

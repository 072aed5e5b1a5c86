"""Where each field of a rendered InstallConfig came from in the inventory.

A problem the config model finds at ``install.management_interface.address`` is useless to an
operator who wrote ``stook_node.address``: every field set while rendering records its inventory
path here, and a problem's path is traced back to the deepest recorded field above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stook_core.problems import child_path

# Where a config field is set when nothing set it (a missing required field), by its path.
HOMES = {
    "install.token": "stook_cluster.token",
    "install.vip": "stook_cluster.vip",
    "install.server_url": "stook_cluster.server_url",
    "install.dns_servers": "stook_cluster.dns_servers",
    "install.ntp_servers": "stook_cluster.ntp_servers",
    "install.password": "stook_cluster.password",
    "install.ssh_authorized_keys": "stook_cluster.ssh_authorized_keys",
    "install.confirm_erase": "stook_cluster.confirm_erase",
    "install.join_check.api_token": "stook_cluster.api_token",
    "install.join_check.wait": "stook_cluster.join_wait",
    "install.hostname": "stook_node.hostname",
    "install.mode": "stook_node.mode",
    "install.role": "stook_node.role",
    "install.install_disk": "stook_node.install_disk",
    "install.data_disk": "stook_node.data_disk",
    "install.wipe_disks": "stook_node.wipe_disks",
    "install.management_interface.nics": "stook_node.macs",
    "install.management_interface.address": "stook_node.address",
    "install.management_interface.gateway": "stook_node.gateway",
}
NODE_OVERRIDES = "stook_node.install"


@dataclass(frozen=True)
class Origin:
    """The inventory path a config field came from. *exact*: the field is the whole of that
    variable (a problem deeper inside it is still the variable's), else deeper paths continue it."""

    source: str
    exact: bool = False


@dataclass
class Origins:
    fields: dict[str, Origin] = field(default_factory=dict)

    def set(self, path: str, source: str, *, exact: bool = False) -> None:
        """*path* now comes from *source*; whatever was recorded inside it is replaced."""
        for known in [k for k in self.fields if _inside(k, path)]:
            del self.fields[known]
        self.fields[path] = Origin(source, exact)

    def merge(
        self, target: dict[str, Any], layer: Mapping[str, Any], path: str, source: str
    ) -> None:
        """Merge *layer* into *target* (mappings key by key, the rest replaced whole),
        recording each value's source."""
        for key, value in layer.items():
            here, there = child_path(path, key), child_path(source, key)
            if isinstance(value, Mapping) and isinstance(target.get(key), dict):
                self.merge(target[key], value, here, there)
            else:
                target[key] = _plain(value)
                self.set(here, there)

    def source_of(self, path: str) -> tuple[str, bool]:
        """The inventory path behind the config field *path*, and whether something set it
        (else it is where the field would be set: its variable, or the node's ``install``)."""
        above = [k for k in self.fields if k == path or _inside(path, k)]
        if above:
            known = max(above, key=len)
            origin = self.fields[known]
            source = origin.source if origin.exact else origin.source + path[len(known) :]
            return source, True
        home = max((k for k in HOMES if k == path or _inside(path, k)), key=len, default=None)
        if home is not None:
            return HOMES[home], False
        return NODE_OVERRIDES + path.removeprefix("install"), False


def _inside(path: str, parent: str) -> bool:
    return path.startswith((parent + ".", parent + "["))


def _plain(value: Any) -> Any:
    """A deep copy as plain dicts and lists (Ansible hands over its own mapping types)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value

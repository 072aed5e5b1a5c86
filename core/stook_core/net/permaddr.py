"""A NIC's permanent (burnt-in) MAC address: netlink's IFLA_PERM_ADDRESS through pyroute2,
else ``ethtool -P``. The current address is no identity: a bond gives its ports its own MAC,
and drivers and udev may change it; only the permanent one tells NICs apart for good.
A device without one (veth, many virtual NICs with random MACs) reports none."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from typing import Any, Protocol

ETHTOOL_TIMEOUT = 5.0
_ZERO = "00:00:00:00:00:00"
_MAC = re.compile(r"\b([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b")


class LinkSource(Protocol):
    """What ``read_permanent_macs`` needs of pyroute2's IPRoute (or NetNS)."""

    def get_links(self) -> Iterable[Any]: ...


def _usable(mac: object) -> str | None:
    if not isinstance(mac, str):
        return None
    mac = mac.strip().lower()
    return mac if _MAC.fullmatch(mac) and mac != _ZERO else None


def read_permanent_macs(source: LinkSource) -> dict[str, str]:
    """Permanent MACs by interface name, of the links that report one."""
    found = {}
    for link in source.get_links():
        name, mac = link.get_attr("IFLA_IFNAME"), _usable(link.get_attr("IFLA_PERM_ADDRESS"))
        if isinstance(name, str) and mac is not None:
            found[name] = mac
    return found


def netlink_permanent_macs() -> dict[str, str]:
    """This network namespace's permanent MACs; empty when netlink cannot be asked."""
    try:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            return read_permanent_macs(ipr)
    except Exception:  # pyroute2 raises several types (NetlinkError, OSError, ImportError)
        return {}


def parse_ethtool_permanent(output: str) -> str | None:
    """The address of ``ethtool -P``'s "Permanent address: xx:..." line (zeros: none)."""
    for line in output.splitlines():
        if line.lower().startswith("permanent address:"):
            match = _MAC.search(line.lower())
            return _usable(match.group(1)) if match else None
    return None


def ethtool_permanent_mac(name: str) -> str | None:
    """``ethtool -P NAME``; None when ethtool is missing, fails or reports none."""
    try:
        result = subprocess.run(
            ["ethtool", "-P", name],
            capture_output=True,
            text=True,
            timeout=ETHTOOL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_ethtool_permanent(result.stdout) if result.returncode == 0 else None

"""Checks of an installed Stook node over testinfra: the one copy both users share.

``playbooks/verify.yml`` runs them against the inventory's nodes (test_stook_node.py) and the e2e
tier runs them against its QEMU nodes (tests/e2e/test_live_install.py, test_fleet.py), so a check
an operator relies on is the check the tests prove. Each function takes a testinfra host (with
sudo: the RKE2 config and the ESP are root's) and what the node was installed with
(``Expected``), and raises AssertionError naming what differs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import yaml

BOND = "mgmt-bo"
BRIDGE = "mgmt-br"
BOND_MODES = {
    "active-backup": "fault-tolerance (active-backup)",
    "balance-rr": "load balancing (round-robin)",
    "balance-xor": "load balancing (xor)",
    "broadcast": "fault-tolerance (broadcast)",
    "802.3ad": "IEEE 802.3ad Dynamic link aggregation",
    "balance-tlb": "transmit load balancing",
    "balance-alb": "adaptive load balancing",
}


@dataclass(frozen=True)
class Expected:
    """What the node's install config said (the token only as its SHA-256: never a secret here)."""

    hostname: str
    macs: tuple[str, ...]  # the management NICs, first one first (the bridge carries its MAC)
    token_sha256: str
    vip: str | None = None  # the create node's VIP, in its RKE2 config
    server_url: str | None = None  # a joining node's server
    address: str | None = None  # a.b.c.d/nn expected on the management interface
    bond_mode: str = "active-backup"
    version: str | None = None  # the OS version the node runs
    data_disk_serial: str | None = None  # the disk /var/lib/longhorn must be on

    @staticmethod
    def token_digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Expected:
        data: dict[str, Any] = json.loads(text)
        data["macs"] = tuple(data["macs"])
        return cls(**data)


def identity(host: Any, expected: Expected) -> None:
    """The hostname, and the OS version when one is expected."""
    assert host.check_output("hostname") == expected.hostname
    if expected.version is not None:
        release = host.file("/etc/os-release").content_string
        assert f'VERSION="{expected.version}"' in release, release


def immutable_root(host: Any) -> None:
    """/ is the read-only squashfs slot, /etc an overlay."""
    root = host.mount_point("/")
    assert root.filesystem == "squashfs" and "ro" in root.options, (root.filesystem, root.options)
    assert host.run("touch /usr/stook-check").rc != 0, "the root filesystem is writable"
    assert host.mount_point("/etc").filesystem == "overlay"


def management_network(host: Any, expected: Expected) -> str:
    """The bond of the expected NICs under the VLAN-filtering bridge with the first NIC's MAC (so
    DHCP reservations for it apply), and the address when one is expected. The bonding status."""
    bonding: str = host.file(f"/proc/net/bonding/{BOND}").content_string
    mode = BOND_MODES.get(expected.bond_mode, expected.bond_mode)
    assert f"Bonding Mode: {mode}" in bonding, bonding
    assert bonding.count("Slave Interface:") == len(expected.macs), bonding
    for mac in expected.macs:
        assert f"Permanent HW addr: {mac}" in bonding, bonding
    assert host.check_output(f"basename $(readlink /sys/class/net/{BOND}/master)") == BRIDGE
    assert host.file(f"/sys/class/net/{BRIDGE}/bridge/vlan_filtering").content_string == "1\n"
    bridge_mac = host.file(f"/sys/class/net/{BRIDGE}/address").content_string.strip()
    assert bridge_mac == expected.macs[0], (bridge_mac, expected.macs)
    if expected.address is not None:
        shown = host.check_output(f"ip -4 -o addr show dev {BRIDGE}")
        assert f" {expected.address} " in f"{shown} ", shown
    return bonding


def data_disk(host: Any, expected: Expected) -> None:
    """Longhorn's ext4 filesystem is mounted, on the expected disk when one is named."""
    longhorn = host.mount_point("/var/lib/longhorn")
    assert longhorn.exists and longhorn.filesystem == "ext4", longhorn
    if expected.data_disk_serial is not None:
        parent = host.check_output(f"lsblk -ndo PKNAME {longhorn.device}")
        disk = f"/dev/{parent}" if parent else longhorn.device  # a partition, or the disk
        serial = host.check_output(f"lsblk -ndo SERIAL {disk}")
        assert serial == expected.data_disk_serial, (longhorn.device, disk, serial)


def rke2_config(host: Any, expected: Expected) -> None:
    """RKE2's config is root's alone and carries the cluster token and the VIP or server."""
    rke2 = host.file("/etc/rancher/rke2/config.yaml")
    assert rke2.mode == 0o600 and rke2.user == "root", (oct(rke2.mode), rke2.user)
    config: dict[str, Any] = yaml.safe_load(rke2.content_string)
    token = str(config.get("token", ""))
    assert Expected.token_digest(token) == expected.token_sha256, "the token is not the cluster's"
    if expected.vip is not None:
        assert expected.vip in rke2.content_string, "the VIP is not in the RKE2 config"
    if expected.server_url is not None:
        assert config.get("server") == expected.server_url, config.get("server")


def boot_state(host: Any) -> dict[str, Any]:
    """The boot checks passed and the node did not fall back; ``stook-os status``."""
    state = host.run("systemctl is-active stook-boot-ok.service").stdout.strip()
    assert state == "active", f"the boot checks did not pass (stook-boot-ok.service: {state})"
    status: dict[str, Any] = json.loads(host.check_output("stook-os status --json"))
    assert status["fell_back"] is False, status
    return status


def installed_node(host: Any, expected: Expected) -> None:
    """Every check above (verify.yml's whole run)."""
    boot_state(host)
    identity(host, expected)
    immutable_root(host)
    management_network(host, expected)
    data_disk(host, expected)
    rke2_config(host, expected)

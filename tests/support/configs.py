"""Valid InstallConfig documents to start tests from (fresh dicts: mutate freely)."""

from __future__ import annotations

import base64
from typing import Any

TOKEN = "K10-test-token-Zq8#w"
PASSWORD = "correct horse battery"


def ed25519_key(seed: int = 1, comment: str = "ops@example") -> str:
    """A syntactically real ed25519 public key line (the key bytes are arbitrary)."""
    name = b"ssh-ed25519"
    blob = len(name).to_bytes(4, "big") + name + (32).to_bytes(4, "big") + bytes([seed]) * 32
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


def create_document() -> dict[str, Any]:
    """Create mode, static bonded network on VLAN 10, separate data disk."""
    return {
        "apiVersion": "stook.io/v1beta1",
        "kind": "InstallConfig",
        "install": {
            "mode": "create",
            "hostname": "node1",
            "token": TOKEN,
            "password": PASSWORD,
            "ssh_authorized_keys": [ed25519_key()],
            "dns_servers": ["192.168.10.1"],
            "ntp_servers": ["pool.ntp.org"],
            "vip": {"mode": "static", "address": "192.168.10.10"},
            "install_disk": {"path": "/dev/sda"},
            "data_disk": {"path": "/dev/sdb"},
            "management_interface": {
                "nics": [{"name": "eno1"}, {"name": "eno2"}],
                "bond": {"mode": "active-backup", "miimon": 100},
                "vlan_id": 10,
                "method": "static",
                "address": "192.168.10.11/24",
                "gateway": "192.168.10.1",
                "mtu": 1500,
            },
        },
    }


def join_document() -> dict[str, Any]:
    """Join mode over DHCP, OS and data on one disk."""
    return {
        "apiVersion": "stook.io/v1beta1",
        "kind": "InstallConfig",
        "install": {
            "mode": "join",
            "role": "worker",
            "hostname": "node2",
            "token": TOKEN,
            "server_url": "https://192.168.10.10:9345",
            "ssh_authorized_keys": [ed25519_key(2)],
            "install_disk": {"size": "largest"},
            "persistent_size": "64Gi",
            "management_interface": {"nics": ["eno1"]},
        },
    }

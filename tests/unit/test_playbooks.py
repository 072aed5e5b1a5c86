"""playbooks/: every playbook passes ``ansible-playbook --syntax-check``; the fleet filter serves
each node a document stook_core validates, pinned by its SHA-256, and refuses a broken inventory
naming host and field; verify.yml's expectations come from the same rendered configs."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from stook_core.config.validate import load_document
from support.configs import TOKEN, ed25519_key
from support.pxe import ANSIBLE_PLAYBOOK, EXAMPLE, PLAYBOOKS, VAULT_PASSWORD

PLAYBOOK_FILES = sorted(PLAYBOOKS.glob("*.yml"))


def filters() -> ModuleType:
    path = PLAYBOOKS / "filter_plugins" / "stook_fleet.py"
    spec = importlib.util.spec_from_file_location("stook_fleet_filters", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hostvars() -> dict[str, dict[str, Any]]:
    cluster = {
        "token": TOKEN,
        "vip": {"address": "10.77.0.100"},
        "ssh_authorized_keys": [ed25519_key()],
        "confirm_erase": True,
        "dns_servers": ["10.77.0.1"],
        "gateway": "10.77.0.1",
    }
    disks = {"install_disk": {"serial": "STOOK-OS"}, "data_disk": {"serial": "STOOK-DATA"}}
    node = {"macs": ["52:54:00:5F:01:01"], "address": "10.77.0.11/24", "mode": "create", **disks}
    join = {"macs": ["52:54:00:5f:02:01"], **disks}
    return {
        "node1": {"stook_cluster": cluster, "stook_node": node, "stook_version": "1.0"},
        "node2": {"stook_cluster": cluster, "stook_node": join},
    }


@pytest.mark.parametrize("playbook", PLAYBOOK_FILES, ids=lambda p: p.name)
def test_every_playbook_passes_the_syntax_check(playbook: Path) -> None:
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "--syntax-check", "-i", str(EXAMPLE), str(playbook),
         "--vault-password-file", str(VAULT_PASSWORD)],
        capture_output=True, text=True, timeout=120, check=False,
        env={"ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"), "HOME": str(Path.home()),
             "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_playbooks_are_found() -> None:
    assert {p.name for p in PLAYBOOK_FILES} >= {"pxe-server.yml", "verify.yml"}


def test_each_node_is_served_a_valid_document_pinned_by_its_sha256() -> None:
    served = filters().stook_install_configs(["node1", "node2"], hostvars())
    assert set(served) == {"node1", "node2"}
    node1 = served["node1"]
    assert node1["sha256"] == hashlib.sha256(node1["document"].encode()).hexdigest()
    assert (node1["hostname"], node1["macs"], node1["address"]) == (
        "node1",
        ["52:54:00:5f:01:01"],
        "10.77.0.11",
    )
    config = load_document(yaml.safe_load(node1["document"]))
    assert config.install.token.get_secret_value() == TOKEN  # the node needs it in clear
    assert served["node2"]["address"] is None  # DHCP: dnsmasq cannot reserve it an address
    variables = hostvars()
    variables["node2"]["stook_pxe_address"] = "10.77.0.12"
    again = filters().stook_install_configs(["node1", "node2"], variables)
    assert again["node2"]["address"] == "10.77.0.12"
    joined = load_document(yaml.safe_load(served["node2"]["document"]))
    assert joined.install.server_url == "https://10.77.0.100:9345"


def test_the_same_inventory_renders_the_same_bytes() -> None:
    first = filters().stook_install_configs(["node1", "node2"], hostvars())
    again = filters().stook_install_configs(["node1", "node2"], hostvars())
    assert [n["sha256"] for n in first.values()] == [n["sha256"] for n in again.values()]


def test_a_broken_inventory_is_refused_naming_host_and_field_never_the_token() -> None:
    variables = hostvars()
    variables["node2"] = {**variables["node2"], "stook_node": {"macs": ["52:54:00:5f:01:01"]}}
    variables["node1"]["stook_node"] = {**variables["node1"]["stook_node"], "address": "10.0.0.1"}
    with pytest.raises(AnsibleFilterError) as raised:
        filters().stook_install_configs(["node1", "node2"], variables)
    message = str(raised.value)
    assert "nothing was written" in message
    assert "node1, node2: stook_node.macs" in message, message
    assert "node1: stook_node.address" in message, message
    assert TOKEN not in message


def test_no_nodes_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="no Stook nodes"):
        filters().stook_install_configs([], {})


def test_verify_expects_what_the_config_says() -> None:
    expected = filters().stook_expected(["node1", "node2"], hostvars())
    node1 = json.loads(expected["node1"])
    assert node1 == {
        "hostname": "node1",
        "macs": ["52:54:00:5f:01:01"],
        "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
        "vip": "10.77.0.100",
        "server_url": None,
        "address": "10.77.0.11/24",
        "bond_mode": "active-backup",
        "version": "1.0",
        "data_disk_serial": "STOOK-DATA",
    }
    node2 = json.loads(expected["node2"])
    assert (node2["vip"], node2["server_url"]) == (None, "https://10.77.0.100:9345")
    assert TOKEN not in expected["node1"] + expected["node2"]

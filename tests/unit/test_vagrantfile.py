"""The fleet lab's Vagrantfile passes ``vagrant validate`` (Debian's vagrant + vagrant-libvirt:
the libvirt provider's and the ansible provisioner's settings are checked), for an inventory of
the lab's shape, and a broken inventory is a one-line error, not a Ruby backtrace.

``vagrant up`` needs libvirt and nested virtualization, which these machines lack
(docs/fleet.md says how to run the lab)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.tiers import require_commands

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "playbooks" / "inventory" / "example"


def lab_inventory(folder: Path, nodes: dict[str, dict[str, Any]]) -> Path:
    """An inventory directory of the lab's shape: hosts.yml, pxe_servers group vars, host vars."""
    (folder / "host_vars").mkdir(parents=True)
    (folder / "group_vars").mkdir()
    hosts = {
        "all": {
            "children": {
                "pxe_servers": {"hosts": {"pxe1": {}}},
                "stook_nodes": {"hosts": {name: {} for name in nodes}},
            }
        }
    }
    (folder / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (folder / "group_vars" / "pxe_servers.yml").write_text("pxe_server_address: 10.88.0.1\n")
    for name, variables in nodes.items():
        (folder / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump({"stook_node": variables}))
    return folder


def validate(tmp_path: Path, inventory: Path) -> subprocess.CompletedProcess[str]:
    require_commands("vagrant")
    env = {
        **os.environ,
        "STOOK_LAB_INVENTORY": str(inventory),
        "VAGRANT_HOME": str(tmp_path / "vagrant-home"),  # plugins: Debian's system ones
        "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot-vagrant"),
        "VAGRANT_CHECKPOINT_DISABLE": "1",
    }
    return subprocess.run(
        ["vagrant", "validate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_lab_of_a_pxe_server_and_its_nodes_validates(tmp_path: Path) -> None:
    inventory = lab_inventory(
        tmp_path / "inventory",
        {
            "node1": {"mode": "create", "macs": ["52:54:00:5f:01:01"],
                      "install_disk": {"serial": "STOOK-OS"},
                      "data_disk": {"serial": "STOOK-DATA"}},
            "node2": {"macs": ["52-54-00-5F-01-02"], "install_disk": "largest"},
            "node3": {"macs": ["52:54:00:5f:01:03"]},
        },
    )  # fmt: skip
    done = validate(tmp_path, inventory)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Vagrantfile validated successfully" in done.stdout


def test_the_example_inventory_is_a_lab(tmp_path: Path) -> None:
    done = validate(tmp_path, EXAMPLE)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ({"node1": {"mode": "create"}}, "host node1: stook_node.macs is empty"),
        ({}, "has no stook_nodes hosts"),
    ],
    ids=["no-mac", "no-nodes"],
)
def test_an_inventory_the_lab_cannot_boot_is_one_clear_error(
    tmp_path: Path, nodes: dict[str, dict[str, Any]], message: str
) -> None:
    done = validate(tmp_path, lab_inventory(tmp_path / "inventory", nodes))
    assert done.returncode != 0
    assert "Stook lab: " in done.stderr and message in done.stderr, done.stderr
    assert ".rb:" not in done.stderr  # no backtrace


def test_a_missing_inventory_names_the_variable(tmp_path: Path) -> None:
    done = validate(tmp_path, tmp_path / "nowhere")
    assert done.returncode != 0
    assert "STOOK_LAB_INVENTORY" in done.stderr and "hosts.yml is missing" in done.stderr

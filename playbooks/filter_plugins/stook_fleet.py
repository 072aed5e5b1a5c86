"""Ansible filters over Stook's own fleet model (stook_core.fleet): nothing is rendered here.

``groups['stook_nodes'] | stook_install_configs(hostvars)`` validates the whole inventory
(``stook_cluster`` group vars, ``stook_node`` host vars) with stook_core, exactly as the installer
would validate each document, and returns per inventory host what the PXE server serves it:
its install config as YAML (token included: served to that node only), the document's SHA-256
(pinned on the node's kernel line) and the MACs and address it is known by. Any problem fails
the play with every problem at once, each naming the hosts, the inventory variable and the
InstallConfig field path (never a secret's value).

``groups['stook_nodes'] | stook_expected(hostvars)`` is what verify.yml checks on each
installed node (playbooks/checks: the checks the e2e tier makes), as JSON.

The filters need stook_core importable by the Python that runs Ansible (the project's .venv:
``scripts/bootstrap.sh``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError

CHECKS = Path(__file__).resolve().parents[1] / "checks"
CLUSTER_VAR = "stook_cluster"
NODE_VAR = "stook_node"


def _plain(value: Any) -> Any:
    """Ansible's (tagged, vaulted) values as plain Python data for the model."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _fleet(hosts: list[str], hostvars: Mapping[str, Any]) -> Any:
    try:
        from stook_core.fleet import FleetError, load_inventory
    except ImportError as error:
        raise AnsibleFilterError(
            f"stook_core is not importable by {sys.executable} ({error}): run Ansible from the "
            "project's .venv (scripts/bootstrap.sh), e.g. .venv/bin/ansible-playbook"
        ) from None
    if not hosts:
        raise AnsibleFilterError("the inventory has no Stook nodes (group stook_nodes is empty)")
    nodes = {host: _plain(hostvars[host].get(NODE_VAR)) for host in hosts}
    cluster = _plain(hostvars[hosts[0]].get(CLUSTER_VAR))
    try:
        return load_inventory(nodes, cluster)
    except FleetError as error:
        raise AnsibleFilterError(
            f"the Stook inventory is not valid: nothing was written.\n{error.report()}"
        ) from None


def _address(node: Any, variables: Mapping[str, Any]) -> str | None:
    """The node's address on the provisioning network: its static one, else stook_pxe_address
    (dnsmasq reserves it for the node's MACs; nginx serves the node's config to it only)."""
    net = node.config.install.management_interface
    if net.address is not None:
        return str(net.address.ip)
    given = variables.get("stook_pxe_address")
    return str(given) if given else None


def stook_install_configs(hosts: list[str], hostvars: Mapping[str, Any]) -> dict[str, Any]:
    """Inventory host -> hostname, macs, address, document (YAML) and its sha256."""
    fleet = _fleet(list(hosts), hostvars)
    served: dict[str, Any] = {}
    for name, document in fleet.documents(reveal_secrets=True).items():
        node = fleet.nodes[name]
        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        served[name] = {
            "hostname": node.hostname,
            "macs": [mac.lower() for mac in node.macs],
            "address": _address(node, hostvars[name]),
            "document": text,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
    return served


def stook_expected(hosts: list[str], hostvars: Mapping[str, Any]) -> dict[str, str]:
    """Inventory host -> the JSON of checks.Expected for that node."""
    if str(CHECKS) not in sys.path:
        sys.path.insert(0, str(CHECKS))
    from stook_node_checks import Expected

    fleet = _fleet(list(hosts), hostvars)
    expected: dict[str, str] = {}
    for name, node in fleet.nodes.items():
        spec = node.config.install
        net = spec.management_interface
        vip = spec.vip.address if spec.mode == "create" and spec.vip is not None else None
        data = spec.data_disk
        expected[name] = Expected(
            hostname=node.hostname,
            macs=tuple(mac.lower() for mac in node.macs),
            token_sha256=Expected.token_digest(spec.token.get_secret_value()),
            vip=str(vip) if vip is not None else None,
            server_url=str(spec.server_url) if spec.server_url else None,
            address=str(net.address) if net.address is not None else None,
            bond_mode=net.bond.mode,
            version=_plain(hostvars[name].get("stook_version")),
            data_disk_serial=data.serial if data is not None else None,
        ).to_json()
    return expected


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"stook_install_configs": stook_install_configs, "stook_expected": stook_expected}

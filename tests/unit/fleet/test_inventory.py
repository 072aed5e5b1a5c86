"""The fleet inventory: per-node InstallConfigs from cluster + host variables, every problem at
once, each naming its hosts, the inventory variable and the config field."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from stook_core.config import load_document
from stook_core.fleet import FleetError, load_inventory, render_inventory
from support.configs import ed25519_key

TOKEN = "K10" + "ab" * 32 + "::server:fleet-secret-7Qx"
PASSWORD = "correct horse battery"


def cluster_vars(**changes: Any) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "token": TOKEN,
        "vip": "192.168.10.10",
        "dns_servers": ["192.168.10.1"],
        "ntp_servers": ["pool.ntp.org"],
        "gateway": "192.168.10.1",
        "ssh_authorized_keys": [ed25519_key()],
        "confirm_erase": True,
        "install": {"install_disk": "largest", "persistent_size": "64Gi"},
    }
    cluster.update(changes)
    return cluster


def host_vars() -> dict[str, dict[str, Any]]:
    return {
        "node1": {"mode": "create", "macs": ["52:54:00:00:00:01"], "address": "192.168.10.11/24"},
        "node2": {
            "macs": ["52:54:00:00:00:02", "52:54:00:00:01:02"],
            "address": "192.168.10.12/24",
        },
        "node3": {"macs": "52-54-00-00-00-03", "role": "worker"},
    }


def problems(hosts: Mapping[str, Any], cluster: Any) -> list[str]:
    with pytest.raises(FleetError) as raised:
        render_inventory(hosts, cluster)
    return [str(problem) for problem in raised.value.problems]


def one(found: list[str], *parts: str) -> str:
    """The one problem line holding every part."""
    matching = [line for line in found if all(part in line for part in parts)]
    assert len(matching) == 1, f"{parts} in {found}"
    return matching[0]


# --- rendering ----------------------------------------------------------------------------------


def test_each_node_gets_a_valid_config_from_cluster_and_host_variables() -> None:
    documents = render_inventory(host_vars(), cluster_vars())
    assert list(documents) == ["node1", "node2", "node3"]
    configs = {name: load_document(doc).install for name, doc in documents.items()}
    first, second, third = configs["node1"], configs["node2"], configs["node3"]
    assert (first.mode, first.hostname, str(first.vip and first.vip.address)) == (
        "create", "node1", "192.168.10.10",
    )  # fmt: skip
    assert first.server_url is None
    assert second.mode == third.mode == "join"
    assert second.server_url == third.server_url == "https://192.168.10.10:9345"
    assert second.vip is None
    assert [nic.mac for nic in second.management_interface.nics] == [
        "52:54:00:00:00:02", "52:54:00:00:01:02",
    ]  # fmt: skip
    assert str(second.management_interface.address) == "192.168.10.12/24"
    assert str(second.management_interface.gateway) == "192.168.10.1"
    # A DHCP node takes no static address and no gateway.
    assert third.management_interface.method == "dhcp"
    assert third.management_interface.gateway is None
    assert third.role == "worker"
    assert [nic.mac for nic in third.management_interface.nics] == ["52:54:00:00:00:03"]
    for spec in configs.values():
        assert spec.token.get_secret_value() == TOKEN  # the node needs it to join
        assert spec.automatic and spec.confirm_erase
        assert spec.install_disk.size == "largest"
        assert str(spec.dns_servers[0]) == "192.168.10.1"


def test_joining_nodes_check_the_cluster_through_the_vip_and_wait_for_it() -> None:
    api_token = "reader-token-secret-Zr5"
    fleet = load_inventory(host_vars(), cluster_vars(api_token=api_token, join_wait=600))
    assert fleet.nodes["node1"].config.install.join_check is None  # create: nothing to join
    check = fleet.nodes["node2"].config.install.join_check
    assert check is not None
    assert (check.api_url, check.wait) == ("https://192.168.10.10:6443", 600)
    assert check.api_token is not None and check.api_token.get_secret_value() == api_token
    default = load_inventory(host_vars(), cluster_vars()).nodes["node3"].config.install
    assert default.join_check is not None and default.join_check.wait == 1800
    assert default.join_check.api_token is None
    found = problems(host_vars(), cluster_vars(api_token="two words-Zr5", join_wait=-1))
    one(found, "stook_cluster.api_token: must be printable ASCII")
    one(found, "stook_cluster.join_wait: -1 is outside 0-86400")
    assert "Zr5" not in str(found)
    cluster = cluster_vars()
    cluster["install"]["join_check"] = {"wait": 5}
    found = problems(host_vars(), cluster)
    one(found, "stook_cluster.install.join_check.wait: is also set by stook_cluster.join_wait")


def test_a_node_overrides_the_cluster_and_mappings_merge_key_by_key() -> None:
    cluster = cluster_vars()
    cluster["install"]["management_interface"] = {"mtu": 9000, "vlan_id": 10}
    hosts = host_vars()
    hosts["node2"]["install"] = {
        "management_interface": {"vlan_id": 20},
        "persistent_size": "100Gi",
    }
    fleet = load_inventory(hosts, cluster)
    node2 = fleet.nodes["node2"].config.install
    node1 = fleet.nodes["node1"].config.install
    assert (node2.management_interface.vlan_id, node2.management_interface.mtu) == (20, 9000)
    assert (node1.management_interface.vlan_id, node1.management_interface.mtu) == (10, 9000)
    assert node2.persistent_size == 100 * 2**30
    assert fleet.nodes["node2"].macs == ["52:54:00:00:00:02", "52:54:00:00:01:02"]


class AnsibleLikeMapping(Mapping[str, Any]):
    """A boundary double: Ansible hands a filter its own mapping types, not dicts."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        return AnsibleLikeMapping(value) if isinstance(value, dict) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_mappings_of_any_type_are_taken() -> None:
    documents = render_inventory(
        AnsibleLikeMapping(host_vars()), AnsibleLikeMapping(cluster_vars())
    )
    assert documents == render_inventory(host_vars(), cluster_vars())


def test_join_server_from_dhcp_vip_is_the_create_nodes_address() -> None:
    documents = render_inventory(host_vars(), cluster_vars(vip="dhcp"))
    assert documents["node2"]["install"]["server_url"] == "https://192.168.10.11:9345"
    assert documents["node1"]["install"]["vip"] == {"mode": "dhcp"}


def test_no_server_to_join_when_vip_is_dhcp_and_create_node_has_no_address() -> None:
    hosts = host_vars()
    del hosts["node1"]["address"]
    found = problems(hosts, cluster_vars(vip="dhcp"))
    assert found == [one(found, "stook_cluster.server_url: is needed")]


def test_an_existing_server_means_every_node_joins_it() -> None:
    hosts = host_vars()
    hosts["node1"]["mode"] = "join"
    cluster = cluster_vars(server_url="10.9.0.5")
    del cluster["vip"]
    documents = render_inventory(hosts, cluster)
    assert {doc["install"]["server_url"] for doc in documents.values()} == {"https://10.9.0.5:9345"}
    hosts["node1"]["mode"] = "create"
    found = problems(hosts, cluster)
    assert found == [
        'node1: stook_node.mode: "create" must be join: stook_cluster.server_url names an '
        "existing cluster to join"
    ]


def test_hostname_defaults_to_the_inventory_name_but_never_an_fqdn() -> None:
    hosts = host_vars()
    hosts["rack1-n4.example.com"] = {"macs": ["52:54:00:00:00:04"]}
    found = problems(hosts, cluster_vars())
    assert found == [one(found, "rack1-n4.example.com: stook_node.hostname: is not set")]
    hosts["rack1-n4.example.com"]["hostname"] = "rack1-n4"
    assert (
        render_inventory(hosts, cluster_vars())["rack1-n4.example.com"]["install"]["hostname"]
        == "rack1-n4"
    )


# --- the inventory as a whole -------------------------------------------------------------------


def test_exactly_one_create_node() -> None:
    hosts = host_vars()
    hosts["node1"]["mode"] = "join"
    found = problems(hosts, cluster_vars())
    assert found == [one(found, "stook_node.mode: is create on no node")]
    hosts["node1"]["mode"] = hosts["node3"]["mode"] = "create"
    hosts["node3"]["role"] = "default"
    found = problems(hosts, cluster_vars())
    assert found == [one(found, "node1, node3: stook_node.mode", "given to 2 nodes")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"node3": {"hostname": "node1"}},
            'node1, node3: stook_node.hostname: "node1" is the hostname of 2 nodes',
        ),
        (
            {"node3": {"address": "192.168.10.12/24"}},
            'node2, node3: stook_node.address: "192.168.10.12" is the address of 2 nodes',
        ),
        (  # the same MAC however it is written
            {"node3": {"macs": ["52:54:00:00:01:02".upper()]}},
            'node2, node3: stook_node.macs: "52:54:00:00:01:02" is the MAC of 2 nodes',
        ),
    ],
    ids=["hostname", "address", "mac"],
)
def test_duplicates_across_the_inventory_are_refused(
    change: dict[str, dict[str, Any]], expected: str
) -> None:
    hosts = host_vars()
    for name, values in change.items():
        hosts[name].update(values)
    found = problems(hosts, cluster_vars())
    assert found == [one(found, expected)]


def test_the_vip_is_nobodys_address_or_mac() -> None:
    found = problems(host_vars(), cluster_vars(vip="192.168.10.12"))
    assert one(found, 'node2: stook_cluster.vip: "192.168.10.12" is the address of node2')
    found = problems(
        host_vars(), cluster_vars(vip={"mode": "dhcp", "hw_addr": "52:54:00:00:00:03"})
    )
    assert found == [one(found, "node3: stook_cluster.vip.hw_addr", "is a MAC of node3")]


def test_every_problem_at_once_with_host_variable_and_field() -> None:
    cluster = cluster_vars(token="has a space", dns_servers=["yes-a-name"])
    cluster["install"]["cluster"] = {"pod_cidr": "10.52.0.0/30"}
    hosts = host_vars()
    hosts["node1"]["macs"] = ["zz:zz"]
    hosts["node2"]["install"] = {"management_interface": {"vlan_id": 5000, "vlanid": 1}}
    hosts["node3"].update(hostname="node2", address="10.0.0.5/24")
    found = problems(hosts, cluster)
    expected = [
        "stook_cluster.token: must be printable ASCII without spaces",
        'stook_cluster.dns_servers[0]: "yes-a-name" is not an IP address',
        "node1: stook_node.macs[0]",
        "node2, node3: stook_node.hostname",
        "node2: stook_node.install.management_interface.vlan_id "
        "(install.management_interface.vlan_id): 5000 is outside 1-4094",
        "node2: stook_node.install.management_interface.vlanid "
        "(install.management_interface.vlanid): is not a known field; did you mean vlan_id?",
        # said once for all the nodes, at the cluster variable that causes it
        "node1, node2, node3: stook_cluster.install.cluster.pod_cidr (install.cluster.pod_cidr)",
        # the cluster gateway does not fit the one node on another subnet
        "node3: stook_cluster.gateway (install.management_interface.gateway): "
        '"192.168.10.1" is outside',
    ]
    for part in expected:
        one(found, part)
    # The bad token and DNS servers are stand-ins: nothing that reads them is judged again.
    assert not [line for line in found if "needs at least one server" in line]
    assert len(found) == len(expected)


def test_a_required_field_nobody_set_points_where_to_set_it() -> None:
    cluster = cluster_vars()
    cluster["install"] = {"install_disk": "largest"}
    hosts = host_vars()
    hosts["node3"]["install"] = {"persistent_size": "64Gi"}
    found = problems(hosts, cluster)
    assert found == [one(found, "node1, node2: stook_node.install.persistent_size", "is required")]
    del hosts["node3"]["install"]
    found = problems(hosts, cluster)
    assert found == [one(found, "node1, node2, node3: stook_cluster.install.persistent_size")]
    cluster["install"] = {"persistent_size": "64Gi"}
    found = problems(hosts, cluster)
    assert found == [one(found, "stook_node.install_disk (install.install_disk): is required")]


def test_one_field_in_one_place_per_level() -> None:
    cluster = cluster_vars()
    cluster["install"]["dns_servers"] = ["192.168.10.2"]
    hosts = host_vars()
    hosts["node2"]["install"] = {"management_interface": {"address": "192.168.10.13/24"}}
    hosts["node3"]["install"] = {"hostname": "other"}
    found = problems(hosts, cluster)
    one(found, "stook_cluster.install.dns_servers: is also set by stook_cluster.dns_servers")
    one(found, "node2: stook_node.install.management_interface.address: is also set by "
        "stook_node.address")  # fmt: skip
    one(found, "node3: stook_node.install.hostname: is also set by stook_node.hostname")
    assert len(found) == 3


def test_an_override_of_the_wrong_type_is_a_report_not_a_crash() -> None:
    cluster = cluster_vars()
    cluster["install"]["management_interface"] = "eno1"
    hosts = host_vars()
    hosts["node3"]["install"] = {"join_check": 5}
    found = problems(hosts, cluster)
    one(found, "node1, node2, node3: stook_cluster.install.management_interface", "mapping")
    one(found, "node3: stook_node.install.join_check (install.join_check)", "mapping")


def test_a_node_may_override_a_cluster_variable_through_install() -> None:
    hosts = host_vars()
    hosts["node3"]["install"] = {"dns_servers": ["10.1.1.1"]}
    documents = render_inventory(hosts, cluster_vars())
    assert documents["node3"]["install"]["dns_servers"] == ["10.1.1.1"]
    assert documents["node2"]["install"]["dns_servers"] == ["192.168.10.1"]


@pytest.mark.parametrize(
    ("hosts", "cluster", "expected"),
    [
        ({}, cluster_vars(), "(hosts): is empty"),
        (["node1"], cluster_vars(), "(hosts): is not a mapping"),
        ({"node1": ["a"]}, cluster_vars(), "node1: stook_node: is not a mapping of variables"),
        (host_vars(), "token", "stook_cluster: is not a mapping of variables"),
        ({"node1": None}, cluster_vars(), "node1: stook_node.macs: is required"),
        ({"node1": {"mode": "create", "macs": ["52:54:00:00:00:01"], "colour": 1}}, cluster_vars(),
         "node1: stook_node.colour: is not a known field"),
    ],
    ids=["no-hosts", "hosts-not-mapping", "host-not-mapping", "cluster-not-mapping",
         "host-without-vars", "typo"],
)  # fmt: skip
def test_malformed_inventories_are_reports(hosts: Any, cluster: Any, expected: str) -> None:
    found = problems(hosts, cluster)
    one(found, expected)


# --- secrets ------------------------------------------------------------------------------------


def test_secrets_never_reach_a_report_or_a_repr() -> None:
    cluster = cluster_vars(token="bad token secret-XYZ", password="pw-secret-XYZ" * 30)
    cluster["install"]["proxy"] = {"http_proxy": "http://u:proxy-secret-XYZ@:bad"}
    hosts = host_vars()
    hosts["node2"]["install"] = {"password": "short"}
    with pytest.raises(FleetError) as raised:
        render_inventory(hosts, cluster)
    text = str(raised.value) + repr(raised.value.problems)
    assert "stook_cluster.token" in text and "stook_cluster.password" in text
    assert "node2: stook_node.install.password" in text
    assert "stook_cluster.install.proxy.http_proxy" in text
    for secret in ("secret-XYZ", "short"):
        assert secret not in text
    fleet = load_inventory(host_vars(), cluster_vars(password=PASSWORD))
    shown = repr(fleet) + str(fleet.nodes) + repr(fleet.cluster)
    assert "fleet-secret" not in shown and PASSWORD not in shown
    redacted = fleet.documents(reveal_secrets=False)
    assert "fleet-secret" not in str(redacted)


def test_the_inputs_are_not_changed() -> None:
    hosts, cluster = host_vars(), cluster_vars()
    before = copy.deepcopy((hosts, cluster))
    documents = render_inventory(hosts, cluster)
    documents["node1"]["install"]["install_disk"]["size"] = "smallest"
    assert (hosts, cluster) == before

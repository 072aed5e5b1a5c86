"""What the network cluster controller derives: NADs, VLAN IDs, reserved VLANs, conflicts."""

from __future__ import annotations

import json
from typing import Any

from stook_agent.api import ClusterNetwork, NicInventory, NodeNetwork, UplinkConfig, VMNetwork
from stook_agent.networks import cluster_state as state


def _vmn(name: str, cn: str, vlan: int, **spec: Any) -> VMNetwork:
    return VMNetwork.parse(
        {
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"clusterNetwork": cn, "vlanId": vlan, **spec},
        }
    )


def _cn(name: str, **status: Any) -> ClusterNetwork:
    return ClusterNetwork.parse({"metadata": {"name": name}, "status": status})


def _report(node: str, **status: Any) -> NodeNetwork:
    return NodeNetwork.parse(
        {"metadata": {"name": node}, "spec": {"nodeName": node}, "status": status}
    )


def _config(
    name: str, cn: str, selector: dict[str, str], nics: list[dict[str, str]], mtu: int = 1500
) -> UplinkConfig:
    return UplinkConfig.parse(
        {
            "metadata": {"name": name},
            "spec": {"clusterNetwork": cn, "nodeSelector": selector, "nics": nics, "mtu": mtu},
        }
    )


def test_the_nad_is_bridge_cni_on_the_networks_bridge_with_vlan_and_mtu() -> None:
    vmn, cn = _vmn("v100", "vms", 100), _cn("vms", mtu=9000)
    body = state.nad_body(vmn, cn)
    assert body["metadata"] == {
        "name": "v100",
        "namespace": "ns",
        "labels": {"stook.io/vm-network": "v100"},
        "annotations": {"stook.io/cluster-network": "vms"},
    }
    assert json.loads(body["spec"]["config"]) == {
        "cniVersion": "0.3.1",
        "name": "v100",
        "type": "bridge",
        "bridge": "vms-br",
        "promiscMode": True,
        "vlan": 100,
        "mtu": 9000,
    }
    assert (
        json.loads(state.nad_body(_vmn("v", "vms", 5, mtu=1400), cn)["spec"]["config"])["mtu"]
        == 1400
    )
    assert not state.nad_differs(body, body)
    assert state.nad_differs({**body, "spec": {"config": "{}"}}, body)


def test_a_vm_network_on_the_management_vlan_gets_no_nad_and_no_trunk() -> None:
    mgmt = _cn("mgmt", reservedVlanIds=[10])
    on_vlan, beside = _vmn("a", "mgmt", 10), _vmn("b", "mgmt", 11)
    problem = state.vm_network_problem(on_vlan, mgmt)
    assert problem is not None and problem.reason == "ManagementVlan"
    assert "VLAN 10 is the management VLAN on mgmt-br" in problem.message
    assert state.vm_network_problem(beside, mgmt) is None
    assert state.vlan_ids(mgmt, [on_vlan, beside]) == [11]
    # Before any node reported its management VLAN, nothing on mgmt goes ahead.
    unknown = state.vm_network_problem(beside, _cn("mgmt"))
    assert unknown is not None and unknown.reason == "ManagementVlanUnknown"


def test_reserved_vlans_are_what_the_nodes_report_untagged_being_the_pvid() -> None:
    reports = [
        _report("a", management={"nics": ["ens3"], "vlanId": 10}),
        _report("b", management={"nics": ["ens3"]}),
        _report("c"),
    ]
    assert state.reserved_vlan_ids(reports) == [1, 10]


def test_mtu_limits_and_missing_networks_are_named() -> None:
    problem = state.vm_network_problem(_vmn("v", "vms", 5, mtu=9000), _cn("vms", mtu=1500))
    assert problem is not None and problem.reason == "MtuTooLarge"
    missing = state.vm_network_problem(_vmn("v", "nope", 5), None)
    assert missing is not None and missing.message == "ClusterNetwork nope does not exist"
    derived = state.derived(
        _cn("vms"),
        [
            _config("a", "vms", {}, [{"name": "e"}], 9000),
            _config("b", "vms", {"r": "b"}, [{"name": "e"}], 1500),
        ],
        [],
    )
    assert derived.status.mtu == 1500


def test_a_nic_of_the_management_network_is_a_conflict_by_name_or_permanent_mac() -> None:
    inventory = NicInventory.parse(
        {
            "metadata": {"name": "n1"},
            "spec": {"nodeName": "n1"},
            "status": {
                "nics": [
                    {
                        "name": "ens3",
                        "mac": "02:00:00:00:00:99",
                        "permanentMac": "52:54:00:00:00:03",
                        "usedBy": "mgmt",
                    },
                    {"name": "ens4", "usedBy": "storage"},
                    {"name": "ens5", "usedBy": "vms"},
                    {"name": "ens6"},
                ]
            },
        }
    )
    config = _config(
        "u",
        "vms",
        {},
        [{"mac": "52:54:00:00:00:03"}, {"name": "ens4"}, {"name": "ens5"}, {"name": "ens6"}],
    )
    assert state.nic_conflicts(config, ["n1"], {"n1": inventory}) == [
        "n1: ens3 is the management network's NIC",
        "n1: ens4 is storage's NIC",
    ]


def test_overlapping_configs_of_one_network_are_found() -> None:
    labels = {"n1": {"rack": "a", "gpu": "yes"}, "n2": {"rack": "b"}}
    mine = _config("a", "vms", {"rack": "a"}, [{"name": "e"}])
    other = _config("g", "vms", {"gpu": "yes"}, [{"name": "e"}])
    elsewhere = _config("s", "storage", {}, [{"name": "e"}])
    matched = state.matched_nodes(mine, labels)
    assert matched == ["n1"]
    assert state.overlaps(mine, matched, [mine, other, elsewhere], labels) == [
        "UplinkConfig g also selects n1"
    ]


def test_vms_using_a_nad_by_short_or_namespaced_name() -> None:
    def vm(namespace: str, name: str, ref: str) -> dict[str, Any]:
        return {
            "metadata": {"namespace": namespace, "name": name},
            "spec": {
                "template": {
                    "spec": {
                        "networks": [
                            {"name": "x", "pod": {}},
                            {"name": "y", "multus": {"networkName": ref}},
                        ]
                    }
                }
            },
        }

    vms = [vm("ns", "a", "v100"), vm("other", "b", "ns/v100"), vm("other", "c", "v100")]
    assert state.used_by(vms, "ns", "v100") == ["ns/a", "other/b"]

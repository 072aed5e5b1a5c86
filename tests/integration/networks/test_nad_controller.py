"""The network cluster controller on the real kube-apiserver, through exactly the chart's
stook-controller RBAC: NADs kept for VMNetworks (Multus's own CRD), VLAN IDs and MTU published
for the node side, nodes labelled where a network is up, the mgmt network and its reserved
VLANs, UplinkConfig conflicts as conditions. Node reports are written by the tests as the nodes
(``report_as_node``); no node agent runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s

from integration.agent.kubehelpers import wait_until
from integration.networks.conftest import Kube
from stook_agent.networks.cluster import NetworkCluster

Report = Callable[[str, str, dict[str, Any]], None]


def network(name: str) -> dict[str, Any]:
    return {"apiVersion": "stook.io/v1alpha1", "kind": "ClusterNetwork", "metadata": {"name": name}}


def uplink(name: str, cn: str, selector: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "stook.io/v1alpha1",
        "kind": "UplinkConfig",
        "metadata": {"name": name},
        "spec": {
            "clusterNetwork": cn,
            "nodeSelector": selector,
            "nics": [{"name": "ens5"}, {"name": "ens6"}],
        }
        | spec,
    }


def vm_network(name: str, cn: str, vlan: int, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "stook.io/v1alpha1",
        "kind": "VMNetwork",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"clusterNetwork": cn, "vlanId": vlan},
    }


def up(cn: str, config: str, vlans: list[int]) -> dict[str, Any]:
    """A node's report that *cn* is up as *config* says."""
    return {
        "networks": [
            {
                "clusterNetwork": cn,
                "uplinkConfig": config,
                "bridge": f"{cn}-br",
                "bond": f"{cn}-bo",
                "nics": ["ens5", "ens6"],
                "vlanIds": vlans,
                "ready": True,
            }
        ]
    }


def test_vm_networks_get_their_nads_and_nodes_their_vlans_and_labels(
    kube: Kube,
    controller_api: k8s.ApiClient,
    run_networks: Callable[..., NetworkCluster],
    nodes: Callable[..., list[str]],
    report_as_node: Report,
    tag: str,
) -> None:
    cn = f"t{tag}"
    node_a, node_b = nodes(2, rack=tag)
    run_networks(via=controller_api)
    kube.create("clusternetworks", network(cn))
    kube.create("uplinkconfigs", uplink(f"u-{tag}", cn, {"rack": tag}, mtu=9000))
    kube.create("vmnetworks", vm_network(f"v100-{tag}", cn, 100))
    kube.create("vmnetworks", vm_network(f"v200-{tag}", cn, 200))

    def nad_config(name: str) -> dict[str, Any] | None:
        nad = kube.nad("default", name)
        return json.loads(nad["spec"]["config"]) if nad else None

    config = wait_until(
        lambda: (c := nad_config(f"v100-{tag}")) and c["mtu"] == 9000 and c,
        "the VLAN 100 NAD with the uplinks' MTU",
    )
    assert config == {
        "cniVersion": "0.3.1",
        "name": f"v100-{tag}",
        "type": "bridge",
        "bridge": f"{cn}-br",
        "promiscMode": True,
        "vlan": 100,
        "mtu": 9000,
    }
    wait_until(
        lambda: kube.status("clusternetworks", cn).get("vlanIds") == [100, 200],
        "the network's VLAN IDs",
    )
    status = kube.status("clusternetworks", cn)
    assert status["mtu"] == 9000 and status["uplinkConfigs"] == [f"u-{tag}"]
    assert status["vmNetworks"] == [f"default/v100-{tag}", f"default/v200-{tag}"]
    vmn = wait_until(
        lambda: (v := kube.status("vmnetworks", f"v100-{tag}", "default")).get("mtu") == 9000 and v,
        "the VMNetwork's status",
    )
    assert vmn["phase"] == "Ready" and vmn["networkAttachmentDefinition"] == f"v100-{tag}"

    # The network is up on node A only (A's report): A is labelled, the network says B is not.
    label = f"network.stook.io/{cn}"
    report_as_node("NodeNetwork", node_a, up(cn, f"u-{tag}", [100, 200]))
    wait_until(lambda: kube.node_labels(node_a).get(label) == "true", "node A's label")
    assert label not in kube.node_labels(node_b)
    uplink_status = wait_until(
        lambda: (s := kube.status("uplinkconfigs", f"u-{tag}")).get("readyNodes") == 1 and s,
        "the config's ready count",
    )
    assert uplink_status["matchedNodes"] == sorted([node_a, node_b])

    def network_ready() -> dict[str, Any] | None:
        conditions = kube.status("clusternetworks", cn).get("conditions") or []
        found = next((c for c in conditions if c["type"] == "Ready"), None)
        return found if found and node_a not in found["message"] else None

    ready = wait_until(network_ready, "the network's Ready naming only node B")
    assert ready["status"] == "False" and node_b in ready["message"], ready
    # ... and then down on A: the label goes.
    report_as_node("NodeNetwork", node_a, {"networks": [{"clusterNetwork": cn, "ready": False}]})
    wait_until(lambda: label not in kube.node_labels(node_a), "node A's label removed")

    # A NAD of the same name that Stook does not keep is left alone, and said so.
    kube.custom.create_namespaced_custom_object(
        "k8s.cni.cncf.io",
        "v1",
        "default",
        "network-attachment-definitions",
        {
            "apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": f"own-{tag}"},
            "spec": {"config": '{"type":"macvlan"}'},
        },
    )
    kube.create("vmnetworks", vm_network(f"own-{tag}", cn, 300))
    wait_until(
        lambda: kube.status("vmnetworks", f"own-{tag}", "default").get("phase") == "Invalid",
        "the VMNetwork whose name is taken to be Invalid",
    )
    assert nad_config(f"own-{tag}") == {"type": "macvlan"}
    # A deleted VMNetwork takes its NAD along.
    kube.delete("vmnetworks", f"v200-{tag}", "default")
    wait_until(lambda: kube.nad("default", f"v200-{tag}") is None, "the VLAN 200 NAD deleted")
    wait_until(
        lambda: kube.status("clusternetworks", cn).get("vlanIds") == [100],
        "VLAN 200 no longer trunked",
    )
    # Its finalizer is removed after the network's status is written: wait for that too.
    wait_until(
        lambda: kube.get("vmnetworks", f"v200-{tag}", "default") is None,
        "the VMNetwork gone (its finalizer done)",
    )


def test_mgmt_is_made_with_the_nodes_management_vlans_reserved(
    kube: Kube,
    controller_api: k8s.ApiClient,
    run_networks: Callable[..., NetworkCluster],
    nodes: Callable[..., list[str]],
    report_as_node: Report,
    tag: str,
) -> None:
    (node,) = nodes(1)
    vlan = 3000 + int(tag, 16) % 1000  # this test's own management VLAN
    run_networks(via=controller_api)
    wait_until(lambda: kube.get("clusternetworks", "mgmt"), "the mgmt ClusterNetwork")
    report_as_node(
        "NodeNetwork", node, {"management": {"nics": ["ens3"], "vlanId": vlan, "mtu": 1500}}
    )
    wait_until(
        lambda: vlan in kube.status("clusternetworks", "mgmt").get("reservedVlanIds", []),
        "the node's management VLAN reserved",
    )
    # A VM network on mgmt on another VLAN gets its NAD on mgmt-br.
    kube.create("vmnetworks", vm_network(f"ok-{tag}", "mgmt", vlan + 1))
    nad = wait_until(lambda: kube.nad("default", f"ok-{tag}"), "the NAD on mgmt")
    assert json.loads(nad["spec"]["config"])["bridge"] == "mgmt-br"


def test_an_uplink_config_naming_a_management_nic_is_refused_with_a_condition(
    kube: Kube,
    controller_api: k8s.ApiClient,
    run_networks: Callable[..., NetworkCluster],
    nodes: Callable[..., list[str]],
    report_as_node: Report,
    tag: str,
) -> None:
    cn = f"m{tag}"
    (node,) = nodes(1, rack=f"m{tag}")
    report_as_node(
        "NicInventory",
        node,
        {
            "nics": [
                {"name": "ens3", "mac": "52:54:00:00:00:03", "link": "up", "usedBy": "mgmt"},
                {"name": "ens5", "mac": "52:54:00:00:00:05", "link": "up"},
            ]
        },
    )
    run_networks(via=controller_api)
    kube.create("clusternetworks", network(cn))
    config = uplink(f"u-{tag}", cn, {"rack": f"m{tag}"})
    config["spec"]["nics"] = [{"mac": "52:54:00:00:00:03"}, {"name": "ens5"}]
    kube.create("uplinkconfigs", config)

    def accepted() -> dict[str, Any] | None:
        conditions = kube.status("uplinkconfigs", f"u-{tag}").get("conditions") or []
        return next((c for c in conditions if c["type"] == "Accepted"), None)

    condition = wait_until(accepted, "the config's Accepted condition")
    assert condition["status"] == "False" and condition["reason"] == "NicInUse", condition
    assert f"{node}: ens3 is the management network's NIC" in condition["message"]

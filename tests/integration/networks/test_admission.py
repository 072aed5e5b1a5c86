"""The chart's network admission policies on the real kube-apiserver: mgmt is the controller's,
no deleting a network or VM network in use, a kept NAD is changed only through its VMNetwork,
no VM network on the management VLAN, no two UplinkConfigs of one network that could select
the same node. (MTU 576-9000 and bonding options: the CRD schemas, test_resources.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from integration.agent.kubehelpers import wait_until
from integration.networks.conftest import Kube
from integration.networks.test_nad_controller import network, uplink, vm_network
from stook_agent.networks.cluster import NetworkCluster


def refused(call: Callable[[], Any], *needles: str) -> None:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 403, caught.value.body
    body = str(caught.value.body)
    assert "ValidatingAdmissionPolicy" in body and "stook: " in body, body
    for needle in needles:
        assert needle in body, body


def test_only_the_controller_makes_or_changes_mgmt(kube: Kube, charted: k8s.ApiClient) -> None:
    refused(
        lambda: kube.custom.create_cluster_custom_object(
            "stook.io", "v1alpha1", "clusternetworks", network("mgmt"), dry_run="All"
        ),
        "installer's management network",
        "ManagementChange",
    )
    if kube.get("clusternetworks", "mgmt") is not None:
        refused(lambda: kube.delete("clusternetworks", "mgmt"), "installer's")


def test_a_network_or_vm_network_in_use_cannot_be_deleted(
    kube: Kube,
    charted: k8s.ApiClient,
    controller_api: k8s.ApiClient,
    run_networks: Callable[..., NetworkCluster],
    tag: str,
) -> None:
    cn = f"d{tag}"
    run_networks(via=controller_api)
    kube.create("clusternetworks", network(cn))
    kube.create("uplinkconfigs", uplink(f"u-{tag}", cn, {"rack": f"d{tag}"}))
    kube.create("vmnetworks", vm_network(f"v-{tag}", cn, 42))
    wait_until(
        lambda: (
            (s := kube.status("clusternetworks", cn)).get("vmNetworks") and s.get("uplinkConfigs")
        ),
        "the network's users listed",
    )
    refused(
        lambda: kube.delete("clusternetworks", cn),
        f"ClusterNetwork {cn} is in use by UplinkConfig u-{tag}, VMNetwork default/v-{tag}",
    )

    # A VM attached to the VM network (KubeVirt's schema): the VM network cannot go.
    vm = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": f"vm-{tag}", "namespace": "default"},
        "spec": {
            "runStrategy": "Halted",
            "template": {
                "spec": {
                    "domain": {"devices": {"interfaces": [{"name": "lan", "bridge": {}}]}},
                    "networks": [{"name": "lan", "multus": {"networkName": f"v-{tag}"}}],
                }
            },
        },
    }
    kube.custom.create_namespaced_custom_object(
        "kubevirt.io", "v1", "default", "virtualmachines", vm
    )
    wait_until(lambda: kube.status("vmnetworks", f"v-{tag}", "default").get("usedBy"), "usedBy")
    refused(
        lambda: kube.delete("vmnetworks", f"v-{tag}", "default"),
        f"VMNetwork v-{tag} is in use by VM default/vm-{tag}",
    )

    # Its NAD is the controller's: changed or deleted only through the VMNetwork.
    wait_until(lambda: kube.nad("default", f"v-{tag}"), "the NAD")
    nads = ("k8s.cni.cncf.io", "v1", "default", "network-attachment-definitions", f"v-{tag}")
    refused(
        lambda: kube.custom.delete_namespaced_custom_object(*nads), f"kept for VMNetwork v-{tag}"
    )
    refused(
        lambda: kube.custom.patch_namespaced_custom_object(*nads, {"spec": {"config": "{}"}}),
        "change or delete the VMNetwork",
    )

    # Once the VM is gone the VM network goes (its NAD with it), then the config, then the network.
    kube.custom.delete_namespaced_custom_object(
        "kubevirt.io", "v1", "default", "virtualmachines", f"vm-{tag}"
    )
    wait_until(
        lambda: not kube.status("vmnetworks", f"v-{tag}", "default").get("usedBy"), "usedBy emptied"
    )
    kube.delete("vmnetworks", f"v-{tag}", "default")
    wait_until(lambda: kube.nad("default", f"v-{tag}") is None, "the NAD deleted")
    kube.delete("uplinkconfigs", f"u-{tag}")
    wait_until(
        lambda: (
            not kube.status("clusternetworks", cn).get("uplinkConfigs")
            and not kube.status("clusternetworks", cn).get("vmNetworks")
        ),
        "no users",
    )
    kube.delete("clusternetworks", cn)


def test_no_vm_network_on_the_management_vlan(
    kube: Kube,
    charted: k8s.ApiClient,
    controller_api: k8s.ApiClient,
    run_networks: Callable[..., NetworkCluster],
    nodes: Callable[..., list[str]],
    report_as_node: Callable[[str, str, dict[str, Any]], None],
    tag: str,
) -> None:
    (node,) = nodes(1)
    vlan = 2000 + int(tag, 16) % 900
    report_as_node("NodeNetwork", node, {"management": {"nics": ["ens3"], "vlanId": vlan}})
    run_networks(via=controller_api)
    wait_until(
        lambda: vlan in (kube.status("clusternetworks", "mgmt").get("reservedVlanIds") or []),
        "the management VLAN reserved",
    )

    def create(vid: int) -> Any:
        return kube.create("vmnetworks", vm_network(f"m{vid}-{tag}", "mgmt", vid))

    # The policy loads the param (mgmt) asynchronously: the refusal comes once it has.
    def refuses() -> bool:
        try:
            kube.custom.create_namespaced_custom_object(
                "stook.io",
                "v1alpha1",
                "default",
                "vmnetworks",
                vm_network(f"p-{tag}", "mgmt", vlan),
                dry_run="All",
            )
        except ApiException as error:
            return error.status == 403
        return False

    wait_until(refuses, "the policy to see mgmt's reserved VLAN")
    refused(lambda: create(vlan), f"VLAN {vlan} is the management VLAN on mgmt-br")
    create(vlan + 1)  # another VLAN on mgmt-br is fine


def test_two_uplink_configs_of_one_network_must_select_apart(
    kube: Kube, charted: k8s.ApiClient, tag: str
) -> None:
    cn = f"o{tag}"
    kube.create("uplinkconfigs", uplink(f"a-{tag}", cn, {"rack": "a", "gpu": "yes"}))

    def sees_a() -> bool:  # the policy's params (every UplinkConfig) are a cache: wait for it
        try:
            kube.custom.create_cluster_custom_object(
                "stook.io", "v1alpha1", "uplinkconfigs", uplink(f"p-{tag}", cn, {}), dry_run="All"
            )
        except ApiException as error:
            return error.status == 403
        return False

    wait_until(sees_a, "the policy's params to hold UplinkConfig a")
    refused(
        lambda: kube.create("uplinkconfigs", uplink(f"b-{tag}", cn, {"gpu": "yes"})),
        f"UplinkConfig a-{tag} of network {cn} could select the same nodes",
    )
    refused(
        lambda: kube.create("uplinkconfigs", uplink(f"c-{tag}", cn, {"zone": "1"})),
        "could select the same nodes",
    )
    refused(
        lambda: kube.create("uplinkconfigs", uplink(f"e-{tag}", cn, {})),
        "could select the same nodes",
    )
    kube.create("uplinkconfigs", uplink(f"d-{tag}", cn, {"rack": "b"}))  # rack a vs b: apart
    kube.create("uplinkconfigs", uplink(f"f-{tag}", f"p{tag}", {}))  # another network
    # An update that would make two overlap is refused too.
    refused(
        lambda: kube.custom.patch_cluster_custom_object(
            "stook.io",
            "v1alpha1",
            "uplinkconfigs",
            f"d-{tag}",
            {"spec": {"nodeSelector": {"rack": "a"}}},
        ),
        "could select the same nodes",
    )

"""The network kinds on the real kube-apiserver: the generated CRDs' schemas and CEL rules
refuse what the kernel, networkd or the design refuse, with a message naming the rule."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from stook_agent.api import ClusterNetwork, ManagementChange, NodeNetwork, UplinkConfig, VMNetwork

GROUP, VERSION = "stook.io", "v1alpha1"


def _create(
    api: k8s.ApiClient, plural: str, body: dict[str, Any], namespace: str | None = None
) -> Any:
    custom = k8s.CustomObjectsApi(api)
    if namespace:
        return custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
    return custom.create_cluster_custom_object(GROUP, VERSION, plural, body)


def refused(call: Callable[[], Any], *needles: str) -> str:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 422, caught.value.body
    for needle in needles:
        assert needle in str(caught.value.body), caught.value.body
    return str(caught.value.body)


def uplink(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "UplinkConfig",
        "metadata": {"name": name},
        "spec": {"clusterNetwork": f"r{name[-6:]}", "nics": [{"name": "ens5"}]} | spec,
    }


def test_an_uplink_config_refuses_bad_mtu_bond_options_nics_and_mgmt(api: k8s.ApiClient) -> None:
    tag = uuid.uuid4().hex[:6]
    made = _create(
        api,
        "uplinkconfigs",
        uplink(
            f"ok-{tag}",
            bond={
                "mode": "802.3ad",
                "options": {"lacp_rate": "fast", "xmit_hash_policy": "layer3+4"},
            },
        ),
    )
    parsed = UplinkConfig.parse(made)
    assert parsed.spec.mtu == 1500 and parsed.spec.bond.miimon == 100
    assert parsed.spec.bond.options == {"lacp_rate": "fast", "xmit_hash_policy": "layer3+4"}

    refused(lambda: _create(api, "uplinkconfigs", uplink(f"m1-{tag}", mtu=575)), "mtu")
    refused(lambda: _create(api, "uplinkconfigs", uplink(f"m2-{tag}", mtu=9001)), "mtu")
    refused(
        lambda: _create(
            api, "uplinkconfigs", uplink(f"o1-{tag}", bond={"options": {"miimon": "1"}})
        ),
        "known bonding options",
    )
    refused(
        lambda: _create(
            api,
            "uplinkconfigs",
            uplink(f"o2-{tag}", bond={"mode": "802.3ad", "options": {"lacp_rate": "turbo"}}),
        ),
        "lacp_rate takes slow, fast",
    )
    refused(
        lambda: _create(
            api,
            "uplinkconfigs",
            uplink(f"o3-{tag}", bond={"mode": "802.3ad", "options": {"ad_actor_sys_prio": "0"}}),
        ),
        "ad_actor_sys_prio takes a whole number 1-65535",
    )
    refused(
        lambda: _create(
            api,
            "uplinkconfigs",
            uplink(f"o4-{tag}", bond={"mode": "active-backup", "options": {"lacp_rate": "fast"}}),
        ),
        "lacp_rate is only taken in bond mode 802.3ad",
    )
    refused(
        lambda: _create(api, "uplinkconfigs", uplink(f"n1-{tag}", nics=[{}])), "a name or a mac"
    )
    refused(lambda: _create(api, "uplinkconfigs", uplink(f"n2-{tag}", nics=[])), "nics")
    refused(
        lambda: _create(api, "uplinkconfigs", uplink(f"g-{tag}", clusterNetwork="mgmt")),
        "ManagementChange",
    )
    custom = k8s.CustomObjectsApi(api)
    refused(
        lambda: custom.patch_cluster_custom_object(
            GROUP, VERSION, "uplinkconfigs", f"ok-{tag}", {"spec": {"clusterNetwork": "other"}}
        ),
        "clusterNetwork is immutable",
    )


def test_a_cluster_network_name_fits_its_devices_names(api: k8s.ApiClient) -> None:
    def network(name: str) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ClusterNetwork",
            "metadata": {"name": name},
        }

    tag = uuid.uuid4().hex[:4]
    made = ClusterNetwork.parse(_create(api, "clusternetworks", network(f"twelve{tag}ab")))
    assert len(made.metadata.name) == 12
    refused(lambda: _create(api, "clusternetworks", network(f"thirteen{tag}a")), "at most 12")
    refused(lambda: _create(api, "clusternetworks", network(f"a.b{tag}")), "at most 12")


def test_a_vm_network_takes_a_vlan_id_and_mtu_in_range(api: k8s.ApiClient) -> None:
    def vm_network(name: str, **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "VMNetwork",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"clusterNetwork": "vms", "vlanId": 100} | spec,
        }

    tag = uuid.uuid4().hex[:6]
    made = VMNetwork.parse(_create(api, "vmnetworks", vm_network(f"v-{tag}"), "default"))
    assert made.spec.vlan_id == 100 and made.spec.mtu is None
    for bad in ({"vlanId": 0}, {"vlanId": 4095}, {"mtu": 9200}):
        refused(lambda b=bad: _create(api, "vmnetworks", vm_network(f"x-{tag}", **b), "default"))
    refused(
        lambda: k8s.CustomObjectsApi(api).patch_namespaced_custom_object(
            GROUP, VERSION, "default", "vmnetworks", f"v-{tag}", {"spec": {"vlanId": 200}}
        ),
        "vlanId is immutable",
    )


def test_a_management_change_changes_something_and_is_immutable(api: k8s.ApiClient) -> None:
    def change(name: str, **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ManagementChange",
            "metadata": {"name": name},
            "spec": spec,
        }

    tag = uuid.uuid4().hex[:6]
    # Selecting no node, so that a controller another test runs fails it at once rather than
    # rolling it out (one change runs at a time).
    nobody = {"test": "no-such-node"}
    made = ManagementChange.parse(
        _create(api, "managementchanges", change(f"c-{tag}", mtu=9000, nodeSelector=nobody))
    )
    assert made.spec.max_concurrent == 1 and made.spec.rollback_after_seconds == 120
    refused(lambda: _create(api, "managementchanges", change(f"e-{tag}")), "changes something")
    refused(lambda: _create(api, "managementchanges", change(f"m-{tag}", mtu=100)), "mtu")
    refused(
        lambda: _create(
            api, "managementchanges", change(f"s-{tag}", static={"addresses": {"n1": "10.0.0.5"}})
        ),
        "addresses",
    )
    refused(
        lambda: k8s.CustomObjectsApi(api).patch_cluster_custom_object(
            GROUP, VERSION, "managementchanges", f"c-{tag}", {"spec": {"mtu": 1400}}
        ),
        "spec is immutable",
    )
    k8s.CustomObjectsApi(api).delete_cluster_custom_object(
        GROUP, VERSION, "managementchanges", f"c-{tag}"
    )


def test_a_node_network_is_named_after_its_node_and_its_status_round_trips(
    api: k8s.ApiClient,
) -> None:
    node = f"node-{uuid.uuid4().hex[:8]}"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NodeNetwork",
        "metadata": {"name": node, "labels": {"stook.io/node": node}},
        "spec": {"nodeName": node},
    }
    refused(
        lambda: _create(api, "nodenetworks", body | {"spec": {"nodeName": "other"}}),
        "named after its node",
    )
    _create(api, "nodenetworks", body)
    status = {
        "management": {
            "nics": ["ens3"],
            "vlanId": 10,
            "mtu": 1500,
            "address": "10.0.0.5/24",
            "lastChange": {
                "change": "c1",
                "request": "u/1",
                "phase": "RolledBack",
                "probes": ["gateway", "apiserver"],
                "failedProbes": ["gateway"],
                "message": "no gateway",
            },
        },
        "networks": [
            {
                "clusterNetwork": "vms",
                "uplinkConfig": "u1",
                "bridge": "vms-br",
                "bond": "vms-bo",
                "nics": ["ens5", "ens6"],
                "vlanIds": [100, 200],
                "ready": True,
            }
        ],
        "vmAddresses": [
            {
                "mac": "52:54:00:12:34:56",
                "ips": ["192.168.100.7"],
                "bridge": "vms-br",
                "vlanId": 100,
            }
        ],
    }
    written = k8s.CustomObjectsApi(api).patch_cluster_custom_object_status(
        GROUP, VERSION, "nodenetworks", node, {"status": status}
    )
    parsed = NodeNetwork.parse(written)
    assert parsed.status.management.last_change is not None
    assert parsed.status.management.last_change.failed_probes == ["gateway"]
    assert parsed.network("vms") is not None and parsed.network("vms").vlan_ids == [100, 200]  # type: ignore[union-attr]
    assert parsed.status.to_dict()["vmAddresses"] == status["vmAddresses"]

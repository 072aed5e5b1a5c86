"""Per-node authorization, on a real kube-apiserver with the chart's RBAC and admission policies
(from ``helm template``): a node's identity may write only its own node's objects.

Node A and node B authenticate as RKE2's kubelets do (client certificates CN=system:node:<n>,
O=system:nodes). As A, every write to B's BlockDevice (spec and status), NodeStatus, NodeUpgrade
(spec and status), passthrough PersistentVolume and Longhorn node is refused (create, update,
status update, relabel, delete); the same as B is allowed; an admin is not restricted. The
policies are also shown to hold where RBAC would allow more (a test-only role grants the two
nodes every verb), and for node-bound tokens of the agent's ServiceAccount.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from integration.agent.kubehelpers import block_device, wait_until
from integration.disks.conftest import disk_api  # noqa: F401 (Stook's and Longhorn's CRDs)
from stook_agent.disks.longhorn import LONGHORN_NODE
from stook_agent.disks.longhorn import NAMESPACE as LONGHORN_NS
from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL, NODE_STATUS, Resource
from stook_agent.upgrades.resources import NODE_UPGRADE
from support.apiserver import EXTERNAL_ENV, KubeCluster
from support.chart import NAMESPACE, apply_chart
from support.tiers import require_tier

POLICIES = ("stook-node-objects", "stook-node-persistentvolumes", "stook-node-longhorn-nodes")


def _custom(api: k8s.ApiClient) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(api)


def node_status(node: str) -> dict[str, Any]:
    return {
        "apiVersion": NODE_STATUS.api_version,
        "kind": NODE_STATUS.kind,
        "metadata": {"name": node, "labels": {NODE_LABEL: node}},
        "spec": {"nodeName": node},
    }


def node_upgrade(node: str) -> dict[str, Any]:
    return node_status(node) | {"apiVersion": NODE_UPGRADE.api_version, "kind": NODE_UPGRADE.kind}


def persistent_volume(name: str, node: str, pinned_to: str | None = None) -> dict[str, Any]:
    """A passthrough PV as the agent makes it (docs/disks.md)."""
    term = {"key": "kubernetes.io/hostname", "operator": "In", "values": [pinned_to or node]}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {NODE_LABEL: node}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "volumeMode": "Block",
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "stook-passthrough",
            "local": {"path": f"/dev/disk/by-id/wwn-{name}"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [term]}]}},
        },
    }


def longhorn_node(node: str) -> dict[str, Any]:
    return {
        "apiVersion": LONGHORN_NODE.api_version,
        "kind": LONGHORN_NODE.kind,
        "metadata": {"name": node, "namespace": LONGHORN_NS},
        "spec": {"name": node, "allowScheduling": True, "disks": {}},
    }


class Client:
    """One identity's view: the writes the matrix tries, by resource."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.custom = _custom(api)
        self.core = k8s.CoreV1Api(api)

    def create(self, resource: Resource, body: dict[str, Any]) -> Any:
        if resource.namespaced:
            return self.custom.create_namespaced_custom_object(
                resource.group, resource.version, body["metadata"]["namespace"],
                resource.plural, body,
            )  # fmt: skip
        return self.custom.create_cluster_custom_object(
            resource.group, resource.version, resource.plural, body
        )

    def patch(self, resource: Resource, name: str, patch: dict[str, Any]) -> Any:
        if resource.namespaced:
            return self.custom.patch_namespaced_custom_object(
                resource.group, resource.version, LONGHORN_NS, resource.plural, name, patch
            )
        return self.custom.patch_cluster_custom_object(
            resource.group, resource.version, resource.plural, name, patch
        )

    def patch_status(self, resource: Resource, name: str, status: dict[str, Any]) -> Any:
        return self.custom.patch_cluster_custom_object_status(
            resource.group, resource.version, resource.plural, name, {"status": status}
        )

    def replace_status(self, resource: Resource, body: dict[str, Any]) -> Any:
        return self.custom.replace_cluster_custom_object_status(
            resource.group, resource.version, resource.plural, body["metadata"]["name"], body
        )

    def delete(self, resource: Resource, name: str) -> Any:
        if resource.namespaced:
            return self.custom.delete_namespaced_custom_object(
                resource.group, resource.version, LONGHORN_NS, resource.plural, name
            )
        return self.custom.delete_cluster_custom_object(
            resource.group, resource.version, resource.plural, name
        )


@dataclass
class Rig:
    admin: Client
    a: str
    b: str
    as_a: Client
    as_b: Client
    cluster: KubeCluster


def _policy_denial(call: Callable[[], Any]) -> ApiException:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 403, caught.value.body
    return caught.value


def denied_by_policy(call: Callable[[], Any]) -> None:
    """Refused by Stook's admission policy (RBAC let it through: the message is the policy's)."""
    error = _policy_denial(call)
    assert "stook: " in str(error.body) and "ValidatingAdmissionPolicy" in str(error.body), (
        error.body
    )


def denied(call: Callable[[], Any]) -> None:
    """Refused (by RBAC or the policy)."""
    _policy_denial(call)


@pytest.fixture(scope="module")
def chart_applied(disk_api: k8s.ApiClient, cluster: KubeCluster) -> k8s.ApiClient:  # noqa: F811
    require_tier(cluster.controllable, "a local API server (signs node certificates)",
                 f"unset {EXTERNAL_ENV}")  # fmt: skip
    apply_chart(disk_api)
    admission = k8s.AdmissionregistrationV1Api(disk_api)
    names = {p.metadata.name for p in admission.list_validating_admission_policy().items}
    assert set(POLICIES) <= names, names
    # The API server loads policies asynchronously: wait until one is in force (a dry run
    # writes nothing).
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    as_node = Client(config.new_client_from_config(config_file=str(cluster.node_kubeconfig(probe))))

    def enforced() -> bool:
        try:
            as_node.custom.create_cluster_custom_object(
                BLOCK_DEVICE.group, BLOCK_DEVICE.version, BLOCK_DEVICE.plural,
                block_device(f"{probe}-x", "someone-else"), dry_run="All",
            )  # fmt: skip
        except ApiException as error:
            return error.status == 403
        return False

    wait_until(enforced, "the chart's admission policies to be in force")
    return disk_api


@pytest.fixture
def rig(chart_applied: k8s.ApiClient, cluster: KubeCluster) -> Iterator[Rig]:
    suffix = uuid.uuid4().hex[:8]
    a, b = f"node-a-{suffix}", f"node-b-{suffix}"
    admin = Client(chart_applied)
    # B's objects, made by an admin.
    admin.create(BLOCK_DEVICE, block_device(f"{b}-sda", b))
    admin.create(NODE_STATUS, node_status(b))
    admin.create(NODE_UPGRADE, node_upgrade(b))
    admin.core.create_persistent_volume(persistent_volume(f"{b}-sda", b))
    admin.create(LONGHORN_NODE, longhorn_node(b))
    admin.create(LONGHORN_NODE, longhorn_node(a))

    def client(node: str) -> Client:
        path = cluster.node_kubeconfig(node)
        return Client(config.new_client_from_config(config_file=str(path)))

    yield Rig(admin, a, b, client(a), client(b), cluster)


def node_side_writes(who: Client, b: str, tag: str) -> list[Callable[[], Any]]:
    """What the agent writes, aimed at node *b*'s objects (*tag* keeps new names apart)."""
    return [
        lambda: who.create(BLOCK_DEVICE, block_device(f"{b}-new{tag}", b)),
        lambda: who.patch_status(BLOCK_DEVICE, f"{b}-sda", {"state": "Active"}),
        lambda: who.patch_status(NODE_STATUS, b, {"agentVersion": f"by-{tag}"}),
        lambda: who.patch(NODE_UPGRADE, b, {"spec": {"upgrade": f"by-{tag}"}}),
        lambda: who.patch_status(NODE_UPGRADE, b, {"message": f"by-{tag}"}),
        lambda: who.patch(LONGHORN_NODE, b, {"spec": {"disks": {f"d{tag}": None}}}),
        lambda: who.core.create_persistent_volume(persistent_volume(f"{b}-pv{tag}", b)),
    ]


def writes_rbac_gives_no_node(who: Client, a: str, b: str) -> list[Callable[[], Any]]:
    return [
        lambda: who.patch(BLOCK_DEVICE, f"{b}-sda", {"spec": {"provision": "longhorn"}}),
        lambda: who.patch(BLOCK_DEVICE, f"{b}-sda", {"metadata": {"labels": {NODE_LABEL: a}}}),
        lambda: who.delete(BLOCK_DEVICE, f"{b}-sda"),
        lambda: who.delete(NODE_STATUS, b),
        lambda: who.delete(LONGHORN_NODE, b),
    ]


def test_as_node_a_every_node_side_write_to_node_bs_objects_is_refused_and_as_b_allowed(
    rig: Rig,
) -> None:
    """With exactly the chart's RBAC: what the agent does (create, status, Longhorn, PVs)."""
    a, b = rig.a, rig.b
    for write in node_side_writes(rig.as_a, b, "a"):
        denied_by_policy(write)
    for write in node_side_writes(rig.as_b, b, "b"):
        write()
    denied_by_policy(lambda: rig.as_a.core.delete_persistent_volume(f"{b}-sda"))
    rig.as_b.core.delete_persistent_volume(f"{b}-sda")
    # Creating B's NodeStatus: only B (an admin made it already; delete it first).
    rig.admin.delete(NODE_STATUS, b)
    denied_by_policy(lambda: rig.as_a.create(NODE_STATUS, node_status(b)))
    rig.as_b.create(NODE_STATUS, node_status(b))

    # A node cannot make an object for another node under its own label: a PV labelled A but
    # usable on B, a BlockDevice labelled A for B.
    denied_by_policy(
        lambda: rig.as_a.core.create_persistent_volume(persistent_volume(f"{a}-x", a, b))
    )
    sneaky = block_device(f"{a}-sneaky", a)
    sneaky["spec"]["nodeName"] = b
    denied_by_policy(lambda: rig.as_a.create(BLOCK_DEVICE, sneaky))
    # Its own are fine.
    rig.as_a.create(BLOCK_DEVICE, block_device(f"{a}-sda", a))
    rig.as_a.core.create_persistent_volume(persistent_volume(f"{a}-sda", a))
    rig.as_a.patch(LONGHORN_NODE, a, {"spec": {"disks": {"x": None}}})

    # The chart's RBAC gives nodes no spec writes, relabelling or deleting of Stook objects.
    for write in writes_rbac_gives_no_node(rig.as_a, a, b) + writes_rbac_gives_no_node(
        rig.as_b, a, b
    ):
        denied(write)


@pytest.fixture
def every_verb(rig: Rig) -> Iterator[None]:
    """A test-only role: the two nodes may do everything RBAC allows on these resources, so
    only the admission policies stand between node A and node B's objects."""
    rbac = k8s.RbacAuthorizationV1Api(rig.admin.core.api_client)
    name = f"stook-test-every-verb-{rig.a}"
    rbac.create_cluster_role({
        "metadata": {"name": name},
        "rules": [
            {"apiGroups": ["stook.io"], "resources": ["*"], "verbs": ["*"]},
            {"apiGroups": ["longhorn.io"], "resources": ["*"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["*"]},
        ],
    })  # fmt: skip
    rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": f"system:node:{n}"}
            for n in (rig.a, rig.b)
        ],
    })  # fmt: skip
    # A delete of nothing: 404 once the role applies (RBAC alone would say 403).
    wait_until(lambda: _can(lambda: rig.as_b.delete(LONGHORN_NODE, "none")), "the test role")
    yield
    rbac.delete_cluster_role_binding(name)
    rbac.delete_cluster_role(name)


def _can(call: Callable[[], Any]) -> bool:
    """True unless RBAC refuses (404 and the like mean RBAC let the call through)."""
    try:
        call()
    except ApiException as error:
        return error.status != 403
    return True


def test_the_policies_hold_even_where_rbac_would_allow_every_verb(
    rig: Rig, every_verb: None
) -> None:
    a, b = rig.a, rig.b
    bd, pv = f"{b}-sda", f"{b}-sda"
    spec_change = {"spec": {"provision": "longhorn"}}
    relabel = {"metadata": {"labels": {NODE_LABEL: a}}}
    status_body = rig.admin.custom.get_cluster_custom_object(
        "stook.io", "v1alpha1", "blockdevices", bd
    )
    status_body["status"] = {"state": "Inactive"}

    # As A: spec, relabel, status (update), delete of every kind of B's object: refused.
    denied_by_policy(lambda: rig.as_a.patch(BLOCK_DEVICE, bd, spec_change))
    denied_by_policy(lambda: rig.as_a.patch(BLOCK_DEVICE, bd, relabel))
    denied_by_policy(lambda: rig.as_a.replace_status(BLOCK_DEVICE, status_body))
    denied_by_policy(lambda: rig.as_a.delete(BLOCK_DEVICE, bd))
    denied_by_policy(lambda: rig.as_a.patch(NODE_STATUS, b, relabel))
    denied_by_policy(lambda: rig.as_a.delete(NODE_STATUS, b))
    denied_by_policy(lambda: rig.as_a.core.patch_persistent_volume(pv, relabel))
    denied_by_policy(lambda: rig.as_a.core.delete_persistent_volume(pv))
    denied_by_policy(lambda: rig.as_a.patch(LONGHORN_NODE, b, {"spec": {"allowScheduling": False}}))
    denied_by_policy(lambda: rig.as_a.delete(LONGHORN_NODE, b))
    # B may not give its objects away either (a PV's node affinity is immutable anyway).
    denied_by_policy(lambda: rig.as_b.patch(BLOCK_DEVICE, bd, relabel))
    denied_by_policy(lambda: rig.as_b.core.patch_persistent_volume(pv, relabel))

    # As B: the same writes to its own objects are allowed.
    rig.as_b.patch(BLOCK_DEVICE, bd, spec_change)
    status_body = rig.admin.custom.get_cluster_custom_object(
        "stook.io", "v1alpha1", "blockdevices", bd
    )
    status_body["status"] = {"state": "Inactive"}
    rig.as_b.replace_status(BLOCK_DEVICE, status_body)
    rig.as_b.patch(LONGHORN_NODE, b, {"spec": {"allowScheduling": False}})
    rig.as_b.core.patch_persistent_volume(pv, {"metadata": {"annotations": {"x": "y"}}})
    rig.as_b.core.delete_persistent_volume(pv)
    rig.as_b.delete(BLOCK_DEVICE, bd)
    rig.as_b.delete(NODE_STATUS, b)
    rig.as_b.delete(LONGHORN_NODE, b)


def test_an_admin_is_not_restricted(rig: Rig) -> None:
    a, b = rig.a, rig.b
    rig.admin.patch(BLOCK_DEVICE, f"{b}-sda", {"metadata": {"labels": {NODE_LABEL: a}}})
    rig.admin.patch_status(NODE_STATUS, b, {"agentVersion": "admin"})
    rig.admin.core.create_persistent_volume(persistent_volume(f"{a}-adm", a, b))
    rig.admin.patch(LONGHORN_NODE, b, {"spec": {"allowScheduling": False}})
    rig.admin.delete(BLOCK_DEVICE, f"{b}-sda")
    rig.admin.core.delete_persistent_volume(f"{b}-sda")


def _token(api: k8s.ApiClient, account: str, node: k8s.V1Node | None) -> str:
    spec: dict[str, Any] = {"audiences": [], "expirationSeconds": 600}
    if node is not None:
        spec["boundObjectRef"] = {"kind": "Node", "apiVersion": "v1", "name": node.metadata.name,
                                  "uid": node.metadata.uid}  # fmt: skip
    reply = k8s.CoreV1Api(api).create_namespaced_service_account_token(
        account, NAMESPACE, {"spec": spec}
    )
    return str(reply.status.token)


def test_a_node_bound_token_of_the_agents_service_account_acts_for_that_node_only(
    rig: Rig, chart_applied: k8s.ApiClient
) -> None:
    core = k8s.CoreV1Api(chart_applied)
    node_a = core.create_node({"metadata": {"name": rig.a}})
    account = "stook-agent"  # the chart's default ServiceAccount ("<release>-agent")
    bound = rig.cluster.token_kubeconfig(f"bound-{rig.a}", _token(chart_applied, account, node_a))
    unbound = rig.cluster.token_kubeconfig(f"unbound-{rig.a}", _token(chart_applied, account, None))
    as_bound = Client(config.new_client_from_config(config_file=str(bound)))
    as_unbound = Client(config.new_client_from_config(config_file=str(unbound)))
    try:
        as_bound.create(BLOCK_DEVICE, block_device(f"{rig.a}-tok", rig.a))
        denied_by_policy(lambda: as_bound.create(BLOCK_DEVICE, block_device(f"{rig.b}-tok", rig.b)))
        denied_by_policy(
            lambda: as_bound.patch_status(BLOCK_DEVICE, f"{rig.b}-sda", {"state": "Active"})
        )
        # A token of the agent's account that names no node acts for none.
        error = _policy_denial(
            lambda: as_unbound.create(BLOCK_DEVICE, block_device(f"{rig.a}-tok2", rig.a))
        )
        assert "names none" in str(error.body), error.body
    finally:
        core.delete_node(rig.a)


def test_a_node_group_member_that_names_no_node_may_write_nothing(
    rig: Rig, chart_applied: k8s.ApiClient
) -> None:
    path = rig.cluster.kubeconfig_for(f"rogue-{rig.a}", ("system:nodes",))
    rogue = Client(config.new_client_from_config(config_file=str(path)))
    for write in node_side_writes(rogue, rig.b, "r"):
        error = _policy_denial(write)
        assert "names none" in str(error.body), error.body


def test_the_controllers_service_account_reads_every_node_and_writes_nothing_yet(
    rig: Rig, chart_applied: k8s.ApiClient
) -> None:
    token = _token(chart_applied, "stook-controller", None)
    path = rig.cluster.token_kubeconfig(f"controller-{rig.a}", token)
    controller = Client(config.new_client_from_config(config_file=str(path)))
    listed = controller.custom.list_cluster_custom_object(
        BLOCK_DEVICE.group, BLOCK_DEVICE.version, BLOCK_DEVICE.plural
    )
    assert f"{rig.b}-sda" in {item["metadata"]["name"] for item in listed["items"]}
    for write in node_side_writes(controller, rig.b, "c"):
        error = _policy_denial(write)  # RBAC's refusal: the policies do not apply to it
        assert "stook: " not in str(error.body), error.body

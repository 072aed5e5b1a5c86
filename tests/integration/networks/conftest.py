"""Fixtures for the network tests: the session's real kube-apiserver with Stook's CRDs, Multus's
NetworkAttachmentDefinition CRD as its module ships it (tests/support/multus.py) and KubeVirt's
VM CRD (tests/support/kubevirt.py), and the network cluster controller started on it.

There is no node agent here: where a test needs a node's report (its NodeNetwork or
NicInventory), it writes it itself, as that node (its own credentials), the way the node side
would; such helpers are named ``report_as_node_*``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from integration.agent.conftest import api, cluster  # noqa: F401 (shared fixtures)
from integration.agent.kubehelpers import _established, wait_until
from stook_agent.networks.cluster import Clients, NetworkCluster
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.controller import ControllerOptions
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.metrics import Metrics
from support import kubevirt, multus
from support.apiserver import ApiServerError, KubeCluster
from support.chart import NAMESPACE, apply_chart
from support.tiers import require_tier

GROUP, VERSION = "stook.io", "v1alpha1"
Object = dict[str, Any]


@pytest.fixture(scope="session")
def net_api(api: k8s.ApiClient) -> k8s.ApiClient:  # noqa: F811
    """The admin client, once Multus's and KubeVirt's CRDs are established too."""
    try:
        crds = [multus.crd()] + [
            c for c in kubevirt.crds() if c["metadata"]["name"].startswith("virtualmachines.")
        ]
    except ApiServerError as error:
        how = "install Go (scripts/bootstrap.sh test); the Go module proxy must be reachable"
        require_tier(False, f"Multus's and KubeVirt's CRDs ({error})", how)
    ext = k8s.ApiextensionsV1Api(api)
    for crd in crds:
        with contextlib.suppress(ApiException):
            ext.create_custom_resource_definition(crd)
        wait_until(lambda n=crd["metadata"]["name"]: _established(ext, n), crd["metadata"]["name"])
    return api


class Kube:
    """Short hands for the tests: Stook objects, NADs, Nodes."""

    def __init__(self, client: k8s.ApiClient) -> None:
        self.api = client
        self.custom = k8s.CustomObjectsApi(client)
        self.core = k8s.CoreV1Api(client)

    def create(self, plural: str, body: Object) -> Object:
        namespace = body["metadata"].get("namespace")
        if namespace:
            return dict(
                self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
            )
        return dict(self.custom.create_cluster_custom_object(GROUP, VERSION, plural, body))

    def get(self, plural: str, name: str, namespace: str | None = None) -> Object | None:
        try:
            if namespace:
                return dict(
                    self.custom.get_namespaced_custom_object(
                        GROUP, VERSION, namespace, plural, name
                    )
                )
            return dict(self.custom.get_cluster_custom_object(GROUP, VERSION, plural, name))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def delete(self, plural: str, name: str, namespace: str | None = None) -> None:
        if namespace:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
        else:
            self.custom.delete_cluster_custom_object(GROUP, VERSION, plural, name)

    def status(self, plural: str, name: str, namespace: str | None = None) -> Object:
        return dict((self.get(plural, name, namespace) or {}).get("status") or {})

    def nad(self, namespace: str, name: str) -> Object | None:
        try:
            return dict(
                self.custom.get_namespaced_custom_object(
                    "k8s.cni.cncf.io", "v1", namespace, "network-attachment-definitions", name
                )
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def node_labels(self, name: str) -> dict[str, str]:
        return dict(self.core.read_node(name).metadata.labels or {})


@pytest.fixture
def kube(net_api: k8s.ApiClient) -> Kube:
    return Kube(net_api)


@pytest.fixture
def tag() -> str:
    """A suffix unique to the test (a ClusterNetwork name has room for 12 characters)."""
    return uuid.uuid4().hex[:6]


@pytest.fixture
def nodes(kube: Kube, tag: str) -> Iterator[Callable[..., list[str]]]:
    """Make Node objects (no kubelet: just the objects) labelled ``test=<tag>``."""
    made: list[str] = []

    def make(count: int, **labels: str) -> list[str]:
        names = [f"n{len(made) + i}-{tag}" for i in range(count)]
        for name in names:
            kube.core.create_node({"metadata": {"name": name, "labels": {"test": tag, **labels}}})
        made.extend(names)
        return names

    yield make
    for name in made:
        with contextlib.suppress(ApiException):
            kube.core.delete_node(name)


@pytest.fixture
def report_as_node(
    kube: Kube,
    cluster: KubeCluster,  # noqa: F811
) -> Callable[[str, str, Object], None]:
    """Write what a node's agent reports, as that node (its own credentials): its NodeNetwork
    or NicInventory (*kind*), created if missing, with *status*."""
    clients: dict[str, k8s.CustomObjectsApi] = {}

    def report(kind: str, node: str, status: Object) -> None:
        if node not in clients:
            path = cluster.node_kubeconfig(node)
            clients[node] = k8s.CustomObjectsApi(config.new_client_from_config(str(path)))
        as_node = clients[node]
        plural = {"NodeNetwork": "nodenetworks", "NicInventory": "nicinventories"}[kind]
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": node, "labels": {"stook.io/node": node}},
            "spec": {"nodeName": node},
        }
        with contextlib.suppress(ApiException):
            as_node.create_cluster_custom_object(GROUP, VERSION, plural, body)
        as_node.patch_cluster_custom_object_status(GROUP, VERSION, plural, node, {"status": status})

    return report


@pytest.fixture
def run_networks(net_api: k8s.ApiClient) -> Iterator[Callable[..., NetworkCluster]]:
    """Start the network cluster controller (as the admin, or through *via*)."""
    started: list[NetworkCluster] = []

    def start(
        via: k8s.ApiClient | None = None, clock: Callable[[], datetime] | None = None
    ) -> NetworkCluster:
        client_api = via or net_api
        controller = NetworkCluster(
            Clients.using(lambda resource: ResourceClient(client_api, resource)),
            Metrics(),
            EventRecorder(client_api, "stook-networks-test", "cluster"),
            ControllerOptions(backoff_base=0.2, workers=2),
            clock=clock,
        )
        controller.start()
        started.append(controller)
        wait_until(controller.synced, "the network controller's first lists")
        return controller

    yield start
    for controller in started:
        controller.stop(drain_timeout=2)


NETWORK_POLICIES = (
    "stook-networks-mgmt",
    "stook-networks-in-use",
    "stook-networks-nads",
    "stook-vm-networks-mgmt-vlan",
    "stook-uplink-configs-disjoint",
)


@pytest.fixture(scope="session")
def charted(net_api: k8s.ApiClient, cluster: KubeCluster) -> k8s.ApiClient:  # noqa: F811
    """The chart applied (RBAC, admission policies), its network policies in force."""
    require_tier(
        cluster.controllable,
        "a local API server (signs node certificates)",
        "unset STOOK_TEST_KUBECONFIG",
    )
    apply_chart(net_api)
    admission = k8s.AdmissionregistrationV1Api(net_api)
    names = {p.metadata.name for p in admission.list_validating_admission_policy().items}
    assert set(NETWORK_POLICIES) <= names, names
    probe = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ClusterNetwork",
        "metadata": {"name": "mgmt"},
    }

    def enforced() -> bool:  # an admin may not make mgmt once the policies load (a dry run)
        try:
            k8s.CustomObjectsApi(net_api).create_cluster_custom_object(
                GROUP, VERSION, "clusternetworks", probe, dry_run="All"
            )
        except ApiException as error:
            return error.status == 403 and "installer" in str(error.body)
        return False

    wait_until(enforced, "the chart's network policies to be in force")
    custom = k8s.CustomObjectsApi(net_api)
    probes = [
        (
            "uplinkconfigs",
            None,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "UplinkConfig",
                "metadata": {"name": "probe"},
                "spec": {"clusterNetwork": "probe", "nics": [{"name": "x"}]},
            },
        ),
        (
            "vmnetworks",
            "default",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "VMNetwork",
                "metadata": {"name": "probe", "namespace": "default"},
                "spec": {"clusterNetwork": "mgmt", "vlanId": 4094},
            },
        ),
    ]

    def params_synced() -> bool:  # the policies with params answer only once those are listed
        for plural, namespace, body in probes:
            try:
                if namespace:
                    custom.create_namespaced_custom_object(
                        GROUP, VERSION, namespace, plural, body, dry_run="All"
                    )
                else:
                    custom.create_cluster_custom_object(GROUP, VERSION, plural, body, dry_run="All")
            except ApiException as error:
                if "not yet synced" in str(error.body):
                    return False
        return True

    wait_until(params_synced, "the network policies' params to be synced")
    return net_api


@pytest.fixture(scope="session")
def controller_api(charted: k8s.ApiClient, cluster: KubeCluster) -> k8s.ApiClient:  # noqa: F811
    """The stook-controller ServiceAccount's credential: exactly the chart's RBAC."""
    reply = k8s.CoreV1Api(charted).create_namespaced_service_account_token(
        "stook-controller", NAMESPACE, {"spec": {"audiences": [], "expirationSeconds": 3600}}
    )
    path = cluster.token_kubeconfig("stook-controller-networks", str(reply.status.token))
    client: k8s.ApiClient = config.new_client_from_config(config_file=str(path))
    return client

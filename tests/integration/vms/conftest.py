"""Fixtures for the VM controller's tests: the real kube-apiserver with Stook's CRDs and
KubeVirt's and CDI's CRDs (their real schemas, tests/support/kubevirt.py).

There is no virt-controller, virt-handler or CDI here: nothing runs VMs or imports disks. The
tests write the VM, VMI and DataVolume states KubeVirt and CDI would write, through the same
schemas, and check what the controller makes of them.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from integration.agent.conftest import cluster  # noqa: F401 (the session's API server)
from integration.agent.kubehelpers import _established, install_crds, wait_until
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.controller import ControllerOptions
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.metrics import Metrics
from stook_agent.vms.controller import Clients, VirtualServerController
from support import kubevirt
from support.apiserver import ApiServerError, KubeCluster
from support.tiers import require_tier

DOC = Path(__file__).resolve().parents[3] / "docs" / "vms.md"


def doc_example() -> dict[str, Any]:
    """The VirtualServer of docs/vms.md's Example section (the seed's example)."""
    section = DOC.read_text().split("## Example", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "docs/vms.md has no yaml block under ## Example"
    return dict(yaml.safe_load(block.group(1)))


@pytest.fixture(scope="session")
def vm_api(cluster: KubeCluster) -> k8s.ApiClient:  # noqa: F811
    api: k8s.ApiClient = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    install_crds(api)
    try:
        crds = kubevirt.crds()
    except ApiServerError as error:
        how = "install Go (scripts/bootstrap.sh test); tools/k8s/build.sh kubevirt"
        require_tier(False, f"KubeVirt's and CDI's CRDs ({error})", how)
    ext = k8s.ApiextensionsV1Api(api)
    for crd in crds:
        with contextlib.suppress(ApiException):
            ext.create_custom_resource_definition(crd)
        wait_until(lambda n=crd["metadata"]["name"]: _established(ext, n), crd["metadata"]["name"])
    return api


@pytest.fixture
def namespace(vm_api: k8s.ApiClient) -> Iterator[str]:
    name = f"vms-{uuid.uuid4().hex[:8]}"
    core = k8s.CoreV1Api(vm_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    with contextlib.suppress(ApiException):
        core.delete_namespace(name)


@pytest.fixture
def run_vms(vm_api: k8s.ApiClient) -> Iterator[Callable[..., VirtualServerController]]:
    """Start the VirtualServer controller (polling fast: tests wait on it), as the admin or
    through *via* (another credential)."""
    started: list[VirtualServerController] = []

    def start(via: k8s.ApiClient | None = None) -> VirtualServerController:
        api = via or vm_api
        controller = VirtualServerController(
            Clients.using(lambda resource: ResourceClient(api, resource)),
            Metrics(),
            EventRecorder(api, "stook-vms-test", "cluster"),
            ControllerOptions(backoff_base=0.2, workers=2),
            poll=0.5,
        )
        controller.start()
        started.append(controller)
        wait_until(controller.synced, "the VirtualServer controller's first lists")
        return controller

    yield start
    for controller in started:
        controller.stop(drain_timeout=2)

"""Fixtures for the agent runtime's integration tests: a real kube-apiserver with Stook's CRDs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config

from integration.agent.kubehelpers import StateMirror, TcpProxy, install_crds, wait_until
from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL
from stook_agent.runtime.client import DEFAULT_TIMEOUT, ResourceClient, Timeout
from stook_agent.runtime.controller import Controller, ControllerOptions
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.metrics import Metrics
from support.apiserver import ApiServerError, KubeCluster, running_cluster, write_kubeconfig
from support.tiers import require_tier


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    try:
        with running_cluster(tmp_path_factory.mktemp("apiserver")) as running:
            yield running
    except ApiServerError as error:
        require_tier(
            False,
            f"a Kubernetes API server ({error})",
            "run scripts/setup.d/k8s-binaries.sh (builds etcd + kube-apiserver with Go), set "
            "KUBEBUILDER_ASSETS, or point STOOK_TEST_KUBECONFIG at a cluster",
        )


@pytest.fixture(scope="session")
def api(cluster: KubeCluster) -> k8s.ApiClient:
    client: k8s.ApiClient = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    install_crds(client)
    return client


@pytest.fixture
def node() -> str:
    """A node name unique to the test, so tests never see each other's objects."""
    return f"node-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def devices(api: k8s.ApiClient) -> ResourceClient:
    return ResourceClient(api, BLOCK_DEVICE)


@pytest.fixture
def run_controller(api: k8s.ApiClient) -> Iterator[Callable[..., tuple[Controller, StateMirror]]]:
    """Start a StateMirror controller for a node (optionally through another API client)."""
    started: list[Controller] = []

    def start(
        node: str,
        via: k8s.ApiClient | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> tuple[Controller, StateMirror]:
        client = ResourceClient(via or api, BLOCK_DEVICE, timeout)
        reconciler = StateMirror(client)
        settings = {"label_selector": f"{NODE_LABEL}={node}", "backoff_base": 0.2} | options
        controller = Controller(
            f"test-{node}",
            client,
            reconciler,
            Metrics(),
            EventRecorder(via or api, "stook-agent-test", node),
            ControllerOptions(**settings),
        )
        controller.start()
        started.append(controller)
        wait_until(controller.ready, "the controller's first list")
        return controller, reconciler

    yield start
    for controller in started:
        controller.stop(drain_timeout=5)


@pytest.fixture
def proxy(cluster: KubeCluster) -> Iterator[TcpProxy]:
    require_tier(
        cluster.controllable,
        "a local test API server (this test stops and restarts it)",
        "unset STOOK_TEST_KUBECONFIG",
    )
    relay = TcpProxy(cluster.port)
    yield relay
    relay.close()


@pytest.fixture
def api_via_proxy(cluster: KubeCluster, proxy: TcpProxy, tmp_path: Path) -> k8s.ApiClient:
    assert cluster.workdir is not None
    path = tmp_path / "kubeconfig-proxy"
    write_kubeconfig(path, f"https://127.0.0.1:{proxy.port}", cluster.workdir / "pki")
    client: k8s.ApiClient = config.new_client_from_config(config_file=str(path))
    return client

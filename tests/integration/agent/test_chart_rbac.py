"""The chart's RBAC and admission policies are enough for the agent and no more: run the real
agent as its node (a client certificate CN=system:node:<node>, O=system:nodes, as RKE2's
kubelet has) against a test API server with exactly what ``helm template`` renders."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from integration.agent.kubehelpers import (
    agent_process,
    block_device,
    get_or_none,
    wait_until,
)
from stook_agent.blockdevice import NOT_FOUND as REASON
from stook_agent.resources import BLOCK_DEVICE, NODE_STATUS
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.conditions import find_condition
from support.apiserver import EXTERNAL_ENV, KubeCluster
from support.chart import apply_chart
from support.tiers import require_tier


def test_the_agent_works_with_exactly_the_charts_rbac(
    cluster: KubeCluster, api: k8s.ApiClient, node: str, tmp_path: Path
) -> None:
    require_tier(cluster.controllable, "a local API server (signs a user)", f"unset {EXTERNAL_ENV}")
    apply_chart(api)
    kubeconfig = cluster.node_kubeconfig(node)
    devices = ResourceClient(api, BLOCK_DEVICE)
    devices.create(block_device(f"{node}-sda", node))

    with agent_process(kubeconfig, node, tmp_path) as agent:
        wait_until(
            lambda: (
                (find_condition(devices.get(f"{node}-sda"), "Ready") or {}).get("reason") == REASON
            ),
            "the agent (as its node) to acknowledge its BlockDevice",
            explain=agent.log_tail,
        )
        statuses = ResourceClient(api, NODE_STATUS)
        wait_until(
            lambda: ((get_or_none(statuses, node) or {}).get("status") or {}).get("lastHeartbeat"),
            "the agent (as its node) to write its NodeStatus",
            explain=agent.log_tail,
        )
    log = agent.log.read_text()
    assert "403" not in log and "Forbidden" not in log, log[-2000:]

    # ... and no more than that: no spec writes or deletes of its BlockDevices, no Secrets.
    restricted = config.new_client_from_config(config_file=str(kubeconfig))
    own = ResourceClient(restricted, BLOCK_DEVICE)
    for attempt in (
        lambda: own.delete(f"{node}-sda"),
        lambda: own.patch(f"{node}-sda", {"spec": {"provision": "longhorn"}}),
        lambda: k8s.CoreV1Api(restricted).list_secret_for_all_namespaces(),
    ):
        with pytest.raises(ApiException) as denied:
            attempt()
        assert denied.value.status == 403

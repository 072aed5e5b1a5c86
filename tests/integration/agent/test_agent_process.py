"""The stook-agent program itself: NodeStatus heartbeat, health, metrics, SIGTERM shutdown."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from integration.agent.kubehelpers import (
    AgentProcess,
    agent_process,
    block_device,
    get_or_none,
    wait_until,
)
from stook_agent import __version__
from stook_agent.blockdevice import NOT_FOUND as REASON
from stook_agent.resources import NODE_LABEL, NODE_STATUS
from stook_agent.runtime.client import Object, ResourceClient
from stook_agent.runtime.conditions import find_condition
from support.apiserver import KubeCluster


@pytest.fixture
def agent(
    cluster: KubeCluster, api: k8s.ApiClient, node: str, tmp_path: Path
) -> Iterator[AgentProcess]:
    boot = tmp_path / "boot-status.json"
    boot.write_text(json.dumps({"slot": "B", "version": "2026.1.0"}))
    with agent_process(
        cluster.kubeconfig, node, tmp_path, {"STOOK_BOOT_STATUS": str(boot)}
    ) as running:
        yield running


def test_the_agent_keeps_its_node_status_current(
    agent: AgentProcess, api: k8s.ApiClient, node: str
) -> None:
    statuses = ResourceClient(api, NODE_STATUS)

    def heartbeat() -> Object | None:
        obj = get_or_none(statuses, node)
        return obj if obj and (obj.get("status") or {}).get("lastHeartbeat") else None

    first = wait_until(heartbeat, f"NodeStatus {node} with a heartbeat")
    status = first["status"]
    assert first["metadata"]["labels"] == {NODE_LABEL: node}
    assert (status["agentVersion"], status["bootedSlot"], status["osVersion"]) == (
        __version__,
        "B",
        "2026.1.0",
    )
    ready = find_condition(first, "AgentReady")
    assert ready is not None and ready["status"] == "True" and ready["observedGeneration"] == 1
    beat = status["lastHeartbeat"]
    wait_until(lambda: (heartbeat() or {})["status"]["lastHeartbeat"] != beat, "the next beat")


def test_the_agent_serves_health_and_metrics_and_stops_on_sigterm(
    agent: AgentProcess, devices: ResourceClient, node: str
) -> None:
    wait_until(lambda: agent.get("/readyz")[0] == 200, "/readyz to answer 200")
    assert agent.get("/healthz")[0] == 200

    devices.create(block_device(f"{node}-sda", node))
    wait_until(
        lambda: (find_condition(devices.get(f"{node}-sda"), "Ready") or {}).get("reason") == REASON,
        "the agent to acknowledge its BlockDevice",
    )
    code, metrics = agent.get("/metrics")
    assert code == 200
    for name in (
        'stook_agent_reconcile_total{controller="blockdevice",result="success"}',
        'stook_agent_workqueue_depth{controller="blockdevice"}',
        'stook_agent_reconcile_duration_seconds_count{controller="nodestatus"}',
        'stook_agent_relists_total{controller="blockdevice",reason="initial"} 1.0',
    ):
        assert name in metrics, name

    agent.process.send_signal(signal.SIGTERM)
    assert agent.process.wait(timeout=60) == 0
    assert "stopped" in agent.log.read_text()

"""The chart's RBAC is enough for the agent and no more: run the agent as its ServiceAccount."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from integration.agent.kubehelpers import (
    REPO,
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
from support.tiers import require_tier

NAMESPACE = "stook-system"


def render_chart(release: str, kube_version: str) -> list[dict[str, Any]]:
    require_tier(shutil.which("go") is not None, "Go (builds helm)", "scripts/bootstrap.sh test")
    built = subprocess.run(
        ["bash", str(REPO / "tools" / "k8s" / "build.sh"), "chart"],
        capture_output=True,
        text=True,
        check=True,
    )
    helm = Path(built.stdout.strip().splitlines()[-1]) / "helm"
    chart = str(REPO / "charts" / "stook")
    rendered = subprocess.run(
        [str(helm), "template", release, chart, "--namespace", NAMESPACE,
         "--kube-version", kube_version.lstrip("v")],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert rendered.returncode == 0, f"helm template failed: {rendered.stderr}"
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def test_the_agent_works_with_exactly_the_charts_rbac(
    cluster: KubeCluster, api: k8s.ApiClient, node: str, tmp_path: Path
) -> None:
    require_tier(cluster.controllable, "a local API server (signs a user)", f"unset {EXTERNAL_ENV}")
    release = f"r{uuid.uuid4().hex[:6]}"
    version = k8s.VersionApi(api).get_code().git_version
    docs = {doc["kind"]: doc for doc in render_chart(release, version)}
    rbac = k8s.RbacAuthorizationV1Api(api)
    rbac.create_cluster_role(docs["ClusterRole"])
    rbac.create_cluster_role_binding(docs["ClusterRoleBinding"])
    account = docs["ServiceAccount"]["metadata"]["name"]
    # A client certificate named like the ServiceAccount: RBAC matches it to the binding.
    kubeconfig = cluster.kubeconfig_for(
        f"system:serviceaccount:{NAMESPACE}:{account}", ("system:serviceaccounts",)
    )
    devices = ResourceClient(api, BLOCK_DEVICE)
    devices.create(block_device(f"{node}-sda", node))

    with agent_process(kubeconfig, node, tmp_path) as agent:
        wait_until(
            lambda: (
                (find_condition(devices.get(f"{node}-sda"), "Ready") or {}).get("reason") == REASON
            ),
            "the agent (as its ServiceAccount) to acknowledge its BlockDevice",
            explain=agent.log_tail,
        )
        statuses = ResourceClient(api, NODE_STATUS)
        wait_until(
            lambda: ((get_or_none(statuses, node) or {}).get("status") or {}).get("lastHeartbeat"),
            "the agent (as its ServiceAccount) to write its NodeStatus",
            explain=agent.log_tail,
        )
    log = agent.log.read_text()
    assert "403" not in log and "Forbidden" not in log, log[-2000:]

    # ... and no more than that: no deletes, no Secrets.
    restricted = config.new_client_from_config(config_file=str(kubeconfig))
    for attempt in (
        lambda: ResourceClient(restricted, BLOCK_DEVICE).delete(f"{node}-sda"),
        lambda: k8s.CoreV1Api(restricted).list_secret_for_all_namespaces(),
        lambda: k8s.CoreV1Api(restricted).list_node(),
    ):
        with pytest.raises(ApiException) as denied:
            attempt()
        assert denied.value.status == 403

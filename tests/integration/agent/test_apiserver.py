"""The test API server is a real one: pinned version, client-certificate auth, RBAC enforced."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from support.apiserver import ASSETS_ENV, EXTERNAL_ENV, KubeCluster
from support.tiers import require_tier

GO_MOD = Path(__file__).resolve().parents[3] / "tools" / "k8s" / "apiserver" / "go.mod"


def test_the_kubeconfig_reaches_the_pinned_kube_apiserver(
    cluster: KubeCluster, api: k8s.ApiClient
) -> None:
    version = k8s.VersionApi(api).get_code()
    if cluster.controllable and not os.environ.get(ASSETS_ENV):
        pinned = re.search(r"^\s*k8s\.io/kubernetes (v\S+)", GO_MOD.read_text(), re.M)
        assert pinned is not None
        assert version.git_version == pinned.group(1)
    namespaces = {n.metadata.name for n in k8s.CoreV1Api(api).list_namespace().items}
    assert {"default", "kube-system"} <= namespaces


def test_rbac_is_enforced_for_other_users(cluster: KubeCluster) -> None:
    require_tier(cluster.controllable, "a local test API server", f"unset {EXTERNAL_ENV}")
    path = cluster.kubeconfig_for("nobody")
    nobody = config.new_client_from_config(config_file=str(path))
    with pytest.raises(ApiException) as denied:
        k8s.CoreV1Api(nobody).list_namespace()
    assert denied.value.status == 403

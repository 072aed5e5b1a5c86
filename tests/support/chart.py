"""The Helm chart (charts/stook) rendered by the pinned helm (tools/k8s/build.sh chart) and
applied to a test API server as an operator would (docs/chart.md)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import utils
from kubernetes.client.exceptions import ApiException

from support.tiers import require_tier

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "stook"
NAMESPACE = "stook-system"


def render_chart(release: str, kube_version: str, *flags: str) -> list[dict[str, Any]]:
    """``helm template`` of the chart (templates only: the CRDs are applied from crds/)."""
    require_tier(shutil.which("go") is not None, "Go (builds helm)", "scripts/bootstrap.sh test")
    built = subprocess.run(
        ["bash", str(REPO / "tools" / "k8s" / "build.sh"), "chart"],
        capture_output=True,
        text=True,
        check=True,
    )
    helm = Path(built.stdout.strip().splitlines()[-1]) / "helm"
    rendered = subprocess.run(
        [str(helm), "template", release, str(CHART), "--namespace", NAMESPACE,
         "--kube-version", kube_version.lstrip("v"), *flags],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert rendered.returncode == 0, f"helm template failed: {rendered.stderr}"
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def apply_chart(api: k8s.ApiClient, release: str = "stook") -> list[dict[str, Any]]:
    """Create the release namespace and every object the chart renders (existing ones kept)."""
    version = k8s.VersionApi(api).get_code().git_version
    docs = render_chart(release, version)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    for doc in [namespace, *docs]:
        try:
            utils.create_from_dict(api, doc, namespace=NAMESPACE)  # type: ignore[no-untyped-call]
        except utils.FailToCreateError as error:
            if any(getattr(e, "status", None) != 409 for e in error.api_exceptions):
                raise
        except ApiException as error:
            if error.status != 409:
                raise
    return docs

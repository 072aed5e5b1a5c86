"""Multus's NetworkAttachmentDefinition CRD for the test API server, as its project ships it.

The CRD comes from the pinned Go module github.com/k8snetworkplumbingwg/network-attachment-
definition-client (tools/k8s/multus/go.mod; ``artifacts/networks-crd.yaml``), fetched through the
Go module proxy by ``go mod download`` and verified against tools/k8s/multus/go.sum; the module
cache keeps it for the next run. No Multus runs here: the tests check the NADs the cluster
controller keeps, through the schema Multus installs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support.apiserver import REPO, ApiServerError

MODULE_DIR = REPO / "tools" / "k8s" / "multus"
MODULE = "github.com/k8snetworkplumbingwg/network-attachment-definition-client"
CRD_FILE = "artifacts/networks-crd.yaml"
TIMEOUT = 300.0


def module_dir() -> Path:
    """The pinned module's files in the Go module cache (downloaded once)."""
    if shutil.which("go") is None:
        raise ApiServerError("Go is not on PATH (scripts/bootstrap.sh test installs golang-go)")
    command = ["go", "mod", "download", "-json", MODULE]
    try:
        done = subprocess.run(
            command, cwd=MODULE_DIR, capture_output=True, text=True, check=False, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise ApiServerError(f"`{' '.join(command)}` took over {TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        raise ApiServerError(
            f"`{' '.join(command)}` in {MODULE_DIR} failed:\n"
            f"{done.stderr[-2000:]}{done.stdout[-2000:]}"
        )
    return Path(json.loads(done.stdout)["Dir"])


def crd() -> dict[str, Any]:
    """The NetworkAttachmentDefinition CRD (k8s.cni.cncf.io/v1) of the pinned release."""
    path = module_dir() / CRD_FILE
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    if len(docs) != 1 or docs[0].get("kind") != "CustomResourceDefinition":
        raise ApiServerError(f"{path} is not the one CRD it used to be")
    return dict(docs[0])

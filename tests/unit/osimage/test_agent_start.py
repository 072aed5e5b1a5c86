"""stook-agent.service's ExecStart (/usr/lib/stook/agent/start): which credentials and which
side of the agent it runs. The agent is replaced by ``echo`` (a test double printing its
arguments); the paths it looks at are moved into a temporary directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
START = REPO / "iso-build" / "overlay" / "usr" / "lib" / "stook" / "agent" / "start"


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    return {
        "STOOK_AGENT_KUBECONFIG": tmp_path / "agent" / "kubeconfig",
        "STOOK_RKE2_KUBECONFIG": tmp_path / "rke2" / "kubelet.kubeconfig",
        "STOOK_CONTROLLER_KUBECONFIG": tmp_path / "controller" / "kubeconfig",
    }


def start(paths: dict[str, Path], **env: str) -> subprocess.CompletedProcess[str]:
    variables = {"PATH": os.environ["PATH"], "STOOK_AGENT": "echo"}
    variables.update({name: str(path) for name, path in paths.items()})
    return subprocess.run(
        [str(START)], capture_output=True, text=True, env={**variables, **env}, check=False
    )


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("kubeconfig\n")
    return path


def test_the_operators_kubeconfig_comes_first_then_rke2s_kubelet_one(
    paths: dict[str, Path],
) -> None:
    rke2 = touch(paths["STOOK_RKE2_KUBECONFIG"])
    assert start(paths).stdout.split() == ["--kubeconfig", str(rke2)]
    own = touch(paths["STOOK_AGENT_KUBECONFIG"])
    done = start(paths, STOOK_AGENT_ARGS="--log-level DEBUG --rescan-period 3600")
    assert done.stdout.split() == [
        "--kubeconfig", str(own), "--log-level", "DEBUG", "--rescan-period", "3600"
    ]  # fmt: skip


def test_without_credentials_it_fails_naming_both_paths(paths: dict[str, Path]) -> None:
    done = start(paths)
    assert done.returncode == 1
    assert str(paths["STOOK_AGENT_KUBECONFIG"]) in done.stderr
    assert str(paths["STOOK_RKE2_KUBECONFIG"]) in done.stderr


@pytest.mark.parametrize(
    ("rke2_type", "role", "cluster_side"),
    [("server", "management", True), ("server", "default", True),
     ("server", "witness", False), ("agent", "worker", False), ("", "", False)],
)  # fmt: skip
def test_the_cluster_side_runs_on_management_nodes_with_its_own_credential(
    paths: dict[str, Path], rke2_type: str, role: str, cluster_side: bool
) -> None:
    own = touch(paths["STOOK_AGENT_KUBECONFIG"])
    env = {"STOOK_RKE2_TYPE": rke2_type, "STOOK_ROLE": role}
    assert start(paths, **env).stdout.split() == ["--kubeconfig", str(own)]
    controller = touch(paths["STOOK_CONTROLLER_KUBECONFIG"])
    expected = ["--kubeconfig", str(own)]
    if cluster_side:
        expected += ["--controller-kubeconfig", str(controller)]
    assert start(paths, **env).stdout.split() == expected

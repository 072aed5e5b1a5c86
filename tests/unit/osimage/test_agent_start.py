"""stook-agent.service's ExecStart (/usr/lib/stook/agent/start): which credentials and which
side of the agent it runs. The agent is replaced by a test double printing its arguments and
the environment default stook-agent would read for the cluster side; the paths the script looks
at are moved into a temporary directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
START = REPO / "iso-build" / "overlay" / "usr" / "lib" / "stook" / "agent" / "start"


AGENT_DOUBLE = '#!/bin/sh\necho "$@"\necho "env=${STOOK_CONTROLLER_KUBECONFIG:-}"\n'


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    double = tmp_path / "stook-agent-double"
    double.write_text(AGENT_DOUBLE)
    double.chmod(0o755)
    return {
        "STOOK_AGENT": double,
        "STOOK_AGENT_KUBECONFIG": tmp_path / "agent" / "kubeconfig",
        "STOOK_RKE2_KUBECONFIG": tmp_path / "rke2" / "kubelet.kubeconfig",
        "STOOK_CONTROLLER_KUBECONFIG": tmp_path / "controller" / "kubeconfig",
    }


def start(paths: dict[str, Path], **env: str) -> subprocess.CompletedProcess[str]:
    variables = {"PATH": os.environ["PATH"], **{name: str(path) for name, path in paths.items()}}
    done = subprocess.run(
        [str(START)], capture_output=True, text=True, env={**variables, **env}, check=False
    )
    if done.returncode == 0:  # the cluster side comes from the arguments only, never the env
        assert done.stdout.splitlines()[-1] == "env=", done.stdout
    return done


def arguments(done: subprocess.CompletedProcess[str]) -> list[str]:
    return done.stdout.splitlines()[0].split()


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("kubeconfig\n")
    return path


def test_the_operators_kubeconfig_comes_first_then_rke2s_kubelet_one(
    paths: dict[str, Path],
) -> None:
    rke2 = touch(paths["STOOK_RKE2_KUBECONFIG"])
    assert arguments(start(paths)) == ["--kubeconfig", str(rke2)]
    own = touch(paths["STOOK_AGENT_KUBECONFIG"])
    done = start(paths, STOOK_AGENT_ARGS="--log-level DEBUG --rescan-period 3600")
    assert arguments(done) == [
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
    assert arguments(start(paths, **env)) == ["--kubeconfig", str(own)]
    controller = touch(paths["STOOK_CONTROLLER_KUBECONFIG"])
    expected = ["--kubeconfig", str(own)]
    if cluster_side:
        expected += ["--controller-kubeconfig", str(controller)]
    assert arguments(start(paths, **env)) == expected

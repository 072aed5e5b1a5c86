"""Fixtures for the disk controller's integration tests: loop devices as disks, a real
kube-apiserver with Stook's and (test-only) Longhorn's CRDs, and the agent in-process.

The host runs no udev, so the agent runs without its udev monitor; the tests wake its scans
through the agent's explicit ``RescanTrigger`` (the device-source stand-in) and wait for the
scan to complete. Discovery is configured to include loop devices, and only this test's own
(by backing file), so the host's disks and other tests' loop devices are never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.exceptions import ApiException

from integration.agent.conftest import (  # noqa: F401 (fixtures: the session's API server, ...)
    api_via_proxy,
    cluster,
    proxy,
)
from integration.agent.kubehelpers import install_crds, wait_until
from stook_agent.agent import Agent
from stook_agent.disks.longhorn import LONGHORN_NODE, NAMESPACE
from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL
from stook_agent.runtime.client import Object, ResourceClient
from stook_agent.settings import AgentSettings, DiskSettings
from support.apiserver import KubeCluster
from support.tiers import require_commands, require_root

LONGHORN_CRD = Path(__file__).resolve().parents[2] / "support" / "longhorn_crd.yaml"
MiB = 1024 * 1024


@pytest.fixture(scope="session")
def disk_api(cluster: KubeCluster) -> k8s.ApiClient:  # noqa: F811
    api: k8s.ApiClient = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    install_crds(api)
    ext = k8s.ApiextensionsV1Api(api)
    crd = yaml.safe_load(LONGHORN_CRD.read_text())
    with contextlib.suppress(ApiException):
        ext.create_custom_resource_definition(crd)
    wait_until(
        lambda: any(
            c.type == "Established" and c.status == "True"
            for c in ext.read_custom_resource_definition(crd["metadata"]["name"]).status.conditions
            or []
        ),
        "the Longhorn node CRD",
    )
    with contextlib.suppress(ApiException):
        k8s.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
    return api


class LoopRig:
    """Sparse image files attached as loop devices; everything detached at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.attached: dict[str, Path] = {}  # /dev/loopN -> image

    def image(self, name: str, size: int = 64 * MiB) -> Path:
        path = self.folder / f"{name}.img"
        with path.open("wb") as stream:
            stream.truncate(size)
        return path

    def attach(self, image: Path) -> str:
        done = subprocess.run(
            ["losetup", "--find", "--show", "--partscan", str(image)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        device = done.stdout.strip()
        self.attached[device] = image
        # losetup's own partition scan can miss a table written just before: read it again.
        subprocess.run(["partprobe", device], capture_output=True, check=False)
        return device

    def detach(self, device: str) -> None:
        subprocess.run(["losetup", "--detach", device], capture_output=True, check=False)
        self.attached.pop(device, None)

    def close(self) -> None:
        for device in list(self.attached):
            self.detach(device)


@dataclass
class DiskAgent:
    agent: Agent
    node: str
    host_root: Path
    devices: ResourceClient
    longhorn: ResourceClient

    def rescan(self) -> None:
        """The stand-in for a udev event: wake a scan and wait until it has completed."""
        before = self.agent.disks.discovery.scans
        self.agent.disks.rescan.rescan("test")
        assert self.agent.disks.discovery.wait_for_scan(before, 60), "the disk scan never completed"

    def objects(self) -> list[Object]:
        items, _ = self.devices.list_objects(f"{NODE_LABEL}={self.node}")
        return items

    def by_path(self, device: str) -> Object | None:
        found = [
            o for o in self.objects()
            if ((o.get("status") or {}).get("deviceStatus") or {}).get("devPath") == device
            and o["status"].get("state") == "Active"
        ]  # fmt: skip
        return found[0] if found else None

    def wait_object(self, device: str) -> Object:
        self.rescan()
        return wait_until(lambda: self.by_path(device), f"an Active BlockDevice for {device}")

    def longhorn_node(self) -> Object:
        return self.longhorn.get(f"{NAMESPACE}/{self.node}")


@pytest.fixture
def loops(tmp_path: Path) -> Iterator[LoopRig]:
    require_root()
    require_commands(
        "losetup", "mkfs.ext4", "wipefs", "blkid", "mount", "umount", "sgdisk", "partprobe"
    )
    rig = LoopRig(tmp_path)
    try:
        yield rig
    finally:
        rig.close()


@pytest.fixture
def disk_agent(disk_api: k8s.ApiClient, loops: LoopRig, tmp_path: Path) -> Iterator[DiskAgent]:
    with running_disk_agent(disk_api, disk_api, loops, tmp_path) as running:
        yield running


@pytest.fixture
def disk_agent_via_proxy(
    disk_api: k8s.ApiClient,
    api_via_proxy: k8s.ApiClient,  # noqa: F811 (the fixture imported above)
    loops: LoopRig,
    tmp_path: Path,
) -> Iterator[DiskAgent]:
    """The agent reaching the API server through the test's TCP relay (``proxy``)."""
    with running_disk_agent(disk_api, api_via_proxy, loops, tmp_path) as running:
        yield running


@contextlib.contextmanager
def running_disk_agent(
    disk_api: k8s.ApiClient, agent_api: k8s.ApiClient, loops: LoopRig, tmp_path: Path
) -> Iterator[DiskAgent]:
    node = f"disk-{uuid.uuid4().hex[:8]}"
    host_root = tmp_path / "host"
    host_root.mkdir()
    settings = AgentSettings(
        node=node,
        metrics_host="127.0.0.1",
        metrics_port=0,
        resync_period=600,
        disks=DiskSettings(
            host_root=host_root,
            exclude=r"^(ram|zram)\d",  # loop devices included, but ...
            allow="^" + re.escape(str(loops.folder)) + "/",  # ... only this test's own
            rescan_period=600,
            poll=0.2,
            udev=False,
        ),
    )
    longhorn = ResourceClient(disk_api, LONGHORN_NODE)
    longhorn.create({
        "apiVersion": LONGHORN_NODE.api_version,
        "kind": LONGHORN_NODE.kind,
        "metadata": {"name": node, "namespace": NAMESPACE},
        "spec": {"name": node, "allowScheduling": True, "disks": {}},
    })  # fmt: skip
    agent = Agent(agent_api, settings)
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: agent.manager.ready(), "the agent's first list")
        yield DiskAgent(agent, node, host_root, ResourceClient(disk_api, BLOCK_DEVICE), longhorn)
    finally:
        stop.set()
        thread.join(timeout=30)
        # Never leave a mount behind, whatever the test did.
        for mount in sorted(host_root.rglob("*"), reverse=True):
            if mount.is_dir() and os.path.ismount(mount):
                subprocess.run(["umount", "--lazy", str(mount)], check=False)

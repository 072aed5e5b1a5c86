#!/usr/bin/env python3
"""Bench the disk controller against a real kube-apiserver with real loop devices (root).

Two figures, median and max over --samples disks:
* new disk -> BlockDevice: from just before ``losetup`` attaches a fresh image (and the rescan
  trigger fires, standing in for udev's event on this udev-less host) to the Active
  BlockDevice being readable from the API server;
* provision request -> added to Longhorn: from the spec patch ``provision: longhorn`` to the
  disk in the node's ``nodes.longhorn.io`` spec.disks (wipefs, mkfs.ext4, mount, unit file
  and the Longhorn patch included).
Usage: sudo .venv/bin/python bench/disks_bench.py [--samples 5]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import yaml  # noqa: E402
from kubernetes import client as k8s  # noqa: E402
from kubernetes import config  # noqa: E402

from integration.agent.kubehelpers import install_crds, wait_until  # noqa: E402
from stook_agent.agent import Agent, AgentSettings, DiskSettings  # noqa: E402
from stook_agent.disks.longhorn import LONGHORN_NODE, NAMESPACE  # noqa: E402
from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL  # noqa: E402
from stook_agent.runtime.client import ResourceClient  # noqa: E402
from support.apiserver import running_cluster  # noqa: E402

NODE = "bench-node"
POLL = 0.005


def poll(check: object, what: str) -> object:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        value = check()  # type: ignore[operator]
        if value:
            return value
        time.sleep(POLL)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_cluster(Path(tmp) / "apiserver") as c:
        api = config.new_client_from_config(config_file=str(c.kubeconfig))
        install_crds(api)
        crd = yaml.safe_load((REPO / "tests/support/longhorn_crd.yaml").read_text())
        k8s.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
        time.sleep(2)  # the new CRD's endpoint
        k8s.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
        longhorn = ResourceClient(api, LONGHORN_NODE)
        longhorn.create({"apiVersion": LONGHORN_NODE.api_version, "kind": "Node",
                         "metadata": {"name": NODE, "namespace": NAMESPACE},
                         "spec": {"disks": {}}})  # fmt: skip
        images = Path(tmp) / "images"
        host = Path(tmp) / "host"
        images.mkdir()
        host.mkdir()
        settings = AgentSettings(
            node=NODE, metrics_host="127.0.0.1", metrics_port=0,
            disks=DiskSettings(host_root=host, exclude=r"^(ram|zram)\d",
                               allow="^" + re.escape(str(images)) + "/",
                               rescan_period=600, poll=0.2, udev=False),
        )  # fmt: skip
        agent = Agent(api, settings)
        stop = threading.Event()
        runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        runner.start()
        devices = ResourceClient(api, BLOCK_DEVICE)
        attached: list[str] = []
        discover: list[float] = []
        provision: list[float] = []
        try:
            wait_until(lambda: agent.manager.ready(), "agent ready")
            for index in range(args.samples):
                image = images / f"d{index}.img"
                with image.open("wb") as stream:
                    stream.truncate(256 * 1024 * 1024)
                started = time.perf_counter()
                device = subprocess.run(
                    ["losetup", "--find", "--show", str(image)],
                    capture_output=True, text=True, check=True,
                ).stdout.strip()  # fmt: skip
                attached.append(device)
                agent.disks.rescan.rescan("bench")

                def found(device: str = device) -> str | None:
                    items, _ = devices.list_objects(f"{NODE_LABEL}={NODE}")
                    for o in items:
                        s = o.get("status") or {}
                        if s.get("state") == "Active" and s["deviceStatus"]["devPath"] == device:
                            return str(o["metadata"]["name"])
                    return None

                name = str(poll(found, f"BlockDevice for {device}"))
                discover.append(time.perf_counter() - started)
                started = time.perf_counter()
                devices.patch(name, {"spec": {"provision": "longhorn"}})
                poll(
                    lambda name=name: name in (longhorn.get(f"{NAMESPACE}/{NODE}")["spec"]
                                               .get("disks") or {}),
                    f"{name} in Longhorn",
                )  # fmt: skip
                provision.append(time.perf_counter() - started)
        finally:
            stop.set()
            runner.join(timeout=30)
            for mount in sorted(host.rglob("*"), reverse=True):
                with contextlib.suppress(OSError):
                    if mount.is_mount():
                        subprocess.run(["umount", "--lazy", str(mount)], check=False)
            for device in attached:
                subprocess.run(["losetup", "--detach", device], check=False)
    for label, values in (("new disk -> BlockDevice", discover),
                          ("provision -> added to Longhorn", provision)):  # fmt: skip
        ms = [v * 1000 for v in values]
        print(f"{label}: median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms "
              f"({len(ms)} samples)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

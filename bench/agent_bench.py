#!/usr/bin/env python3
"""Bench the node agent against a real kube-apiserver (the test one from tests/support).

Measures the stook-agent process's resident memory (VmRSS) when idle and once the API server
holds 5,000 BlockDevices across 500 nodes (10 of them the agent's own), with the cluster side
enabled (``--controller-kubeconfig``: the process campaigns for and holds the Lease); what a
cluster controller's cache of all 5,000 BlockDevices adds (the runtime's Informer over every
node's objects, in a process of its own: its RSS after the list minus before); and the time
from a BlockDevice's creation to its reconcile (the agent's status write, seen over a watch),
median and p99.
Usage: .venv/bin/python bench/agent_bench.py [--nodes 500] [--per-node 10] [--samples 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kubernetes import client as k8s  # noqa: E402
from kubernetes import config, watch  # noqa: E402

from integration.agent.kubehelpers import block_device, install_crds, wait_until  # noqa: E402
from stook_agent.blockdevice import NOT_FOUND as REASON  # noqa: E402
from stook_agent.resources import BLOCK_DEVICE, NODE_LABEL  # noqa: E402
from stook_agent.runtime.client import ResourceClient  # noqa: E402
from support.apiserver import free_port, running_cluster  # noqa: E402

AGENT_NODE = "node-000"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def settle_rss(pid: int, seconds: float = 5.0) -> float:
    """RSS after the agent had *seconds* to settle (the maximum seen meanwhile)."""
    end = time.monotonic() + seconds
    peak = 0.0
    while time.monotonic() < end:
        peak = max(peak, rss_mib(pid))
        time.sleep(0.5)
    return peak


def acknowledged(obj: dict[str, object]) -> bool:
    status = obj.get("status") or {}
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return any(c.get("reason") == REASON for c in conditions or [])


def create_fleet(devices: ResourceClient, nodes: int, per_node: int) -> float:
    started = time.monotonic()
    names = [
        (f"node-{n:03d}", f"node-{n:03d}-disk{d:02d}")
        for n in range(nodes)
        for d in range(per_node)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda pair: devices.create(block_device(pair[1], pair[0])), names))
    return time.monotonic() - started


def latencies(api: k8s.ApiClient, devices: ResourceClient, samples: int) -> list[float]:
    """Create objects one by one; time until each one's acknowledgement arrives over a watch."""
    created: dict[str, float] = {}
    done: dict[str, float] = {}
    ready = threading.Event()
    finished = threading.Event()

    def observe() -> None:
        objects = k8s.CustomObjectsApi(api)
        stream = watch.Watch().stream(
            objects.list_cluster_custom_object,
            BLOCK_DEVICE.group,
            BLOCK_DEVICE.version,
            BLOCK_DEVICE.plural,
            label_selector=f"{NODE_LABEL}={AGENT_NODE}",
            timeout_seconds=600,
        )
        ready.set()
        for event in stream:
            obj = event["object"]
            name = obj["metadata"]["name"]
            if name in created and name not in done and acknowledged(obj):
                done[name] = time.monotonic()
                if len(done) == samples:
                    finished.set()
                    return

    thread = threading.Thread(target=observe, daemon=True)
    thread.start()
    ready.wait()
    time.sleep(1)  # let the watch connect
    for i in range(samples):
        name = f"{AGENT_NODE}-lat{i:04d}"
        created[name] = time.monotonic()
        devices.create(block_device(name, AGENT_NODE))
        time.sleep(0.05)
    if not finished.wait(120):
        raise RuntimeError(f"only {len(done)} of {samples} objects were reconciled")
    return [done[name] - created[name] for name in created]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--per-node", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, running_cluster(Path(tmp)) as cluster:
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        install_crds(api)
        devices = ResourceClient(api, BLOCK_DEVICE)
        port = free_port()
        command = [sys.executable, "-m", "stook_agent.cli", "--node-name", AGENT_NODE,
                   "--kubeconfig", str(cluster.kubeconfig),
                   "--controller-kubeconfig", str(cluster.kubeconfig),
                   "--metrics-port", str(port), "--log-level", "WARNING", "--no-udev"]  # fmt: skip
        agent = subprocess.Popen(command, env=os.environ)
        try:
            wait_until(lambda: _ready(port), "the agent to be ready", timeout=60)
            idle = settle_rss(agent.pid)
            fleet_seconds = create_fleet(devices, args.nodes, args.per_node)
            own = [f"{AGENT_NODE}-disk{d:02d}" for d in range(args.per_node)]
            wait_until(
                lambda: all(acknowledged(devices.get(name)) for name in own),
                "the agent's own devices to be reconciled",
                timeout=120,
            )
            loaded = settle_rss(agent.pid)
            samples = sorted(latencies(api, devices, args.samples))
            cache = cluster_cache_mib(cluster.kubeconfig, args.nodes * args.per_node)
        finally:
            agent.terminate()
            agent.wait(30)
    p99 = samples[min(len(samples) - 1, round(0.99 * len(samples)) - 1)]
    result = {
        "objects_in_api_server": args.nodes * args.per_node,
        "nodes": args.nodes,
        "agent_own_objects": args.per_node,
        "fleet_create_seconds": round(fleet_seconds, 1),
        "agent_rss_mib_idle": round(idle, 1),
        "agent_rss_mib_with_fleet": round(loaded, 1),
        "cluster_cache_mib_all_objects": round(cache, 1),
        "agent_rss_mib_with_fleet_and_cluster_cache": round(loaded + cache, 1),
        "latency_samples": len(samples),
        "create_to_reconcile_ms_median": round(statistics.median(samples) * 1000, 1),
        "create_to_reconcile_ms_p99": round(p99 * 1000, 1),
    }
    print(json.dumps(result, indent=2))
    return 0


CACHE_PROBE = """
import sys, threading
from pathlib import Path
from stook_agent.kube import api_client
from stook_agent.resources import BLOCK_DEVICE
from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.informer import Informer
from stook_agent.runtime.metrics import Metrics

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

api = api_client(sys.argv[1])
informer = Informer("all", ResourceClient(api, BLOCK_DEVICE), lambda *_: None, Metrics())
ResourceClient(api, BLOCK_DEVICE).list_objects("stook.io/node=nobody")  # warm: one request
before = rss()
threading.Thread(target=informer.run, daemon=True).start()
informer.synced.wait(120)
print(len(informer.keys()), rss() - before)
"""


def cluster_cache_mib(kubeconfig: Path, expected: int) -> float:
    """RSS that an informer over every BlockDevice adds (a cluster controller's cache)."""
    done = subprocess.run(
        [sys.executable, "-c", CACHE_PROBE, str(kubeconfig)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    count, mib = done.stdout.split()
    if int(count) < expected:
        raise RuntimeError(f"the cache probe saw only {count} objects")
    return float(mib)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())

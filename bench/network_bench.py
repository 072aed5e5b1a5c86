#!/usr/bin/env python3
"""Bench the network cluster controller against a real kube-apiserver (tests/support's).

With --nodes Nodes (each with a NodeNetwork saying the network is up) and --vm-networks
VMNetworks on one ClusterNetwork, measures: the burst (all VMNetworks created at once) until
every NAD exists and the ClusterNetwork lists every VLAN ID; then, at that scale, the latency
from one more VMNetwork's creation to its NAD (seen over a watch), median and p99 of --samples.
The controller runs in this process with the admin's credential (no chart policies).
Usage: .venv/bin/python bench/network_bench.py [--nodes 200] [--vm-networks 500] [--samples 50]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kubernetes import client as k8s  # noqa: E402
from kubernetes import config, watch  # noqa: E402

from integration.agent.kubehelpers import install_crds, wait_until  # noqa: E402
from stook_agent.networks.cluster import Clients, NetworkCluster  # noqa: E402
from stook_agent.runtime.client import ResourceClient  # noqa: E402
from stook_agent.runtime.controller import ControllerOptions  # noqa: E402
from stook_agent.runtime.metrics import Metrics  # noqa: E402
from support import multus  # noqa: E402
from support.apiserver import running_cluster  # noqa: E402

GROUP, VERSION, NS, CN = "stook.io", "v1alpha1", "default", "bench"
NAD = ("k8s.cni.cncf.io", "v1", NS, "network-attachment-definitions")


def vm_network(name: str, vlan: int) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "VMNetwork",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"clusterNetwork": CN, "vlanId": vlan}}  # fmt: skip


class NadWatch:
    """When each NAD was first seen (a watch in a thread)."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.custom = k8s.CustomObjectsApi(api)
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self._watch = watch.Watch()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            self._stream()
        except Exception:  # the API server going away at the end
            return

    def _stream(self) -> None:
        for event in self._watch.stream(self.custom.list_namespaced_custom_object, *NAD,
                                        timeout_seconds=3600):  # fmt: skip
            name = event["object"]["metadata"]["name"]
            with self.lock:
                self.seen.setdefault(name, time.monotonic())

    def stop(self) -> None:
        self._watch.stop()

    def at(self, name: str) -> float | None:
        with self.lock:
            return self.seen.get(name)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--vm-networks", type=int, default=500)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # no KubeVirt here: its VM list keeps failing
    with tempfile.TemporaryDirectory() as tmp, running_cluster(Path(tmp)) as cluster:
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        install_crds(api)
        k8s.ApiextensionsV1Api(api).create_custom_resource_definition(multus.crd())
        wait_until(lambda: _served(api), "the NAD CRD", timeout=60)
        custom, core = k8s.CustomObjectsApi(api), k8s.CoreV1Api(api)
        custom.create_cluster_custom_object(GROUP, VERSION, "clusternetworks", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ClusterNetwork",
            "metadata": {"name": CN}})  # fmt: skip
        custom.create_cluster_custom_object(GROUP, VERSION, "uplinkconfigs", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "UplinkConfig", "metadata": {"name": CN},
            "spec": {"clusterNetwork": CN, "nics": [{"name": "ens5"}]}})  # fmt: skip
        for i in range(args.nodes):
            name = f"node-{i:04d}"
            core.create_node({"metadata": {"name": name}})
            custom.create_cluster_custom_object(GROUP, VERSION, "nodenetworks", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "NodeNetwork",
                "metadata": {"name": name, "labels": {"stook.io/node": name}},
                "spec": {"nodeName": name}})  # fmt: skip
            custom.patch_cluster_custom_object_status(GROUP, VERSION, "nodenetworks", name, {
                "status": {"networks": [{"clusterNetwork": CN, "uplinkConfig": CN,
                                         "ready": True}]}})  # fmt: skip
        nads = NadWatch(api)
        controller = NetworkCluster(
            Clients.using(lambda resource: ResourceClient(api, resource)), Metrics(),
            options=ControllerOptions(workers=2),
        )  # fmt: skip
        controller.start()
        wait_until(controller.synced, "the controller's lists", timeout=120)

        start = time.monotonic()
        names = [f"v{i:04d}" for i in range(args.vm_networks)]
        for i, name in enumerate(names):
            custom.create_namespaced_custom_object(GROUP, VERSION, NS, "vmnetworks",
                                                   vm_network(name, 1 + i))  # fmt: skip
        created = time.monotonic() - start
        wait_until(lambda: all(nads.at(n) for n in names), "every NAD", timeout=1800)
        all_nads = max(t for n in names if (t := nads.at(n)) is not None) - start

        def vlans_listed() -> bool:
            status = custom.get_cluster_custom_object(GROUP, VERSION, "clusternetworks", CN)
            return len((status.get("status") or {}).get("vlanIds") or []) == args.vm_networks

        wait_until(vlans_listed, "every VLAN ID listed", timeout=1800)
        vlans = time.monotonic() - start
        labelled = sum(
            1 for n in core.list_node().items
            if (n.metadata.labels or {}).get(f"network.stook.io/{CN}") == "true"
        )  # fmt: skip

        latencies = []
        for i in range(args.samples):
            name = f"s{i:04d}"
            sent = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, NS, "vmnetworks",
                                                   vm_network(name, 2000 + i))  # fmt: skip
            wait_until(lambda n=name: nads.at(n), f"NAD {name}", timeout=120)
            latencies.append((nads.at(name) or sent) - sent)
        controller.stop(drain_timeout=5)
        nads.stop()
        print(json.dumps({
        "nodes": args.nodes,
        "vm_networks": args.vm_networks,
        "burst_create_s": round(created, 2),
        "burst_all_nads_s": round(all_nads, 2),
        "burst_all_vlan_ids_listed_s": round(vlans, 2),
        "nodes_labelled": labelled,
        "one_more_nad_median_ms": round(statistics.median(latencies) * 1000, 1),
        "one_more_nad_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        }, indent=2), flush=True)  # fmt: skip
        api.close()
    return 0


def _served(api: k8s.ApiClient) -> bool:
    try:
        k8s.CustomObjectsApi(api).list_namespaced_custom_object(*NAD)
    except Exception:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
